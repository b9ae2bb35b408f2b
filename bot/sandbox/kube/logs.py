"""Container logs and the `pods/log` subresource, as the apiserver and the kubelet serve them.

The Job simulator writes each container's output here (`ContainerLogs.write`) with the time each line
arrived; `GET /api/v1/namespaces/NS/pods/NAME/log` reads it with the real `PodLogOptions`:

- `container`: optional when the Pod has one container; otherwise 400 ("a container name must be
  specified for pod P, choose one of: [a b]"), and 400 for a name the Pod does not have;
- 400 while the container is waiting to start ("container "c" in pod "p" is waiting to start:
  ContainerCreating"), 400 for `previous` (these Pods never restart);
- `follow`: a chunked `text/plain` stream that ends when the container terminates (or its Pod goes);
- `tailLines`, `sinceSeconds` / `sinceTime` (at most one of them), `limitBytes` (the stream stops after
  that many bytes, possibly inside a line), `timestamps` (each line prefixed with its RFC 3339 time,
  nanoseconds with trailing zeros trimmed, as Go's `time.RFC3339Nano` prints it);
- a bad value is 422 `PodLogOptions "p" is invalid: ...`, a value that is not a number 400.

Like the kubelet (containerLogMaxSize), a container keeps its last `max_bytes` of output: older lines
rotate away. Logs go with their Pod.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox.kube.errors import ApiError, FieldError, forbidden, invalid
from bot.sandbox.kube.resources import POD_TYPE
from bot.sandbox.kube.store import StoredEvent

Obj = dict[str, Any]
MAX_LOG_BYTES = 10 * 1024 * 1024
"""The kubelet's default containerLogMaxSize."""
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


@dataclass(frozen=True)
class LogLine:
    sequence: int
    stamp_ns: int
    text: str


@dataclass
class ContainerLog:
    """One container's output: lines with their arrival time, and whether the container has stopped."""

    max_bytes: int = MAX_LOG_BYTES
    lines: deque[LogLine] = field(default_factory=deque)
    size: int = 0
    next_sequence: int = 0
    terminated: bool = False
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def write(self, text: str, stamp_ns: int | None = None) -> None:
        """Append `text` (one line per newline); a closed log takes nothing more."""
        if self.terminated:
            return
        stamp = time.time_ns() if stamp_ns is None else stamp_ns
        for part in text.split("\n"):
            if self.lines and stamp <= self.lines[-1].stamp_ns:
                stamp = self.lines[-1].stamp_ns + 1  # the runtime's clock only moves forward
            self.lines.append(LogLine(self.next_sequence, stamp, part))
            self.next_sequence += 1
            self.size += len(part.encode()) + 1
        while self.size > self.max_bytes and len(self.lines) > 1:
            self.size -= len(self.lines.popleft().text.encode()) + 1
        self._wake()

    def terminate(self) -> None:
        self.terminated = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def changed(self) -> None:
        """Wait until a line is written or the container stops."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def since(self, sequence: int) -> list[LogLine]:
        first = self.lines[0].sequence if self.lines else self.next_sequence
        start = max(sequence, first) - first
        return [self.lines[i] for i in range(start, len(self.lines))]


class ContainerLogs:
    """Every container's log, by Pod uid and container name; a Pod's logs go when the Pod does."""

    def __init__(self, max_bytes: int = MAX_LOG_BYTES) -> None:
        self.max_bytes = max_bytes
        self._logs: dict[tuple[str, str], ContainerLog] = {}
        self._epoch = 0

    def log(self, pod_uid: str, container: str) -> ContainerLog:
        key = (pod_uid, container)
        if key not in self._logs:
            self._logs[key] = ContainerLog(self.max_bytes)
        return self._logs[key]

    def find(self, pod_uid: str, container: str) -> ContainerLog | None:
        return self._logs.get((pod_uid, container))

    def write(self, pod: Obj, container: str, text: str) -> None:
        self.log(pod["metadata"]["uid"], container).write(text)

    def terminate(self, pod: Obj, container: str) -> None:
        self.log(pod["metadata"]["uid"], container).terminate()

    def on_change(self, event: StoredEvent) -> None:
        """Store listener: a deleted Pod's logs end their streams and are dropped."""
        if event.key != POD_TYPE.storage_key or event.type != "DELETED":
            return
        uid = event.obj["metadata"]["uid"]
        for key in [k for k in self._logs if k[0] == uid]:
            self._logs.pop(key).terminate()

    @property
    def epoch(self) -> int:
        return self._epoch

    def interrupt(self) -> None:
        """End every open stream (the server stops listening); the logs themselves stay."""
        self._epoch += 1
        for log in self._logs.values():
            log._wake()


# --- options -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None
    limit_bytes: int | None = None


def _bool(query: Mapping[str, str], key: str) -> bool:
    value = query.get(key)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ApiError.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _int(query: Mapping[str, str], key: str) -> int | None:
    value = query.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value, 10)
    except ValueError:
        raise ApiError.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def parse_options(query: Mapping[str, str]) -> LogOptions:
    """The query of a `pods/log` request; values that are not numbers or booleans are 400."""
    since_time = None
    if query.get("sinceTime"):
        try:
            since_time = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        except ValueError:
            raise ApiError.bad_request(
                f'parsing time "{query["sinceTime"]}" as "2006-01-02T15:04:05Z07:00": cannot parse'
            ) from None
        if since_time.tzinfo is None:
            since_time = since_time.replace(tzinfo=UTC)
    return LogOptions(
        container=query.get("container", ""),
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        tail_lines=_int(query, "tailLines"),
        since_seconds=_int(query, "sinceSeconds"),
        since_time=since_time,
        limit_bytes=_int(query, "limitBytes"),
    )


def validate_options(options: LogOptions, pod_name: str) -> None:
    """ValidatePodLogOptions: 422 Invalid, as the apiserver answers."""
    errors: list[FieldError] = []
    if options.tail_lines is not None and options.tail_lines < 0:
        errors.append(invalid("tailLines", options.tail_lines, "must be greater than or equal to 0"))
    if options.limit_bytes is not None and options.limit_bytes < 1:
        errors.append(invalid("limitBytes", options.limit_bytes, "must be greater than 0"))
    if options.since_seconds is not None and options.since_time is not None:
        errors.append(forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif options.since_seconds is not None and options.since_seconds < 1:
        errors.append(invalid("sinceSeconds", options.since_seconds, "must be greater than 0"))
    if errors:
        summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
        raise ApiError(
            422,
            "Invalid",
            f'PodLogOptions "{pod_name}" is invalid: {summary}',
            {"name": pod_name, "kind": "PodLogOptions", "causes": [e.cause() for e in errors]},
        )


# --- which container ---------------------------------------------------------------------------------


def _names(containers: Iterable[Obj]) -> list[str]:
    return [str(c.get("name")) for c in containers]


def container_of(pod: Obj, requested: str) -> str:
    """LogLocation: the named container, or the only one; 400 otherwise (the apiserver's words)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers, init_containers = spec.get("containers") or [], spec.get("initContainers") or []
    if requested:
        if requested not in _names(containers) + _names(init_containers):
            raise ApiError.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(containers) == 1:
        return str(containers[0]["name"])
    if not containers:
        raise ApiError.bad_request(f"a container name must be specified for pod {name}")
    message = (
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(_names(containers))}]"
    )
    if init_containers:
        message += f" or one of the init containers: [{' '.join(_names(init_containers))}]"
    raise ApiError.bad_request(message)


def check_container_state(pod: Obj, container: str, previous: bool) -> bool:
    """The kubelet's validateContainerLogStatus: a waiting container has no logs yet (400).
    True when the container has stopped."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    found = next((s for s in statuses if s.get("name") == container), None)
    if found is None:
        raise ApiError.bad_request(f'container "{container}" in pod "{name}" is not available')
    if previous:
        if not ((found.get("lastState") or {}).get("terminated") or {}).get("containerID"):
            raise ApiError.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        return True
    state = found.get("state") or {}
    if state.get("running") is not None:
        return False
    if state.get("terminated") is not None or (found.get("lastState") or {}).get("terminated") is not None:
        return True
    waiting = state.get("waiting")
    if waiting is None:
        raise ApiError.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
        )
    reason = {
        "ErrImagePull": "image can't be pulled",
        "ImagePullBackOff": "trying and failing to pull image",
    }.get(waiting.get("reason") or "", waiting.get("reason") or "")
    raise ApiError.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')


# --- serving -----------------------------------------------------------------------------------------


def rfc3339_nano(stamp_ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: nanoseconds with trailing zeros (and a bare dot) trimmed."""
    seconds, nanos = divmod(stamp_ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def _since_ns(options: LogOptions, now_ns: int) -> int | None:
    if options.since_time is not None:
        return int(options.since_time.timestamp()) * 1_000_000_000 + options.since_time.microsecond * 1000
    if options.since_seconds is not None:
        return now_ns - options.since_seconds * 1_000_000_000
    return None


def first_lines(log: ContainerLog, options: LogOptions, now_ns: int) -> list[LogLine]:
    """What a request sees of what is already written: the last `tailLines`, then those at or after
    the since time."""
    lines = list(log.lines)
    if options.tail_lines is not None:
        lines = lines[len(lines) - options.tail_lines :] if options.tail_lines else []
    since = _since_ns(options, now_ns)
    return [line for line in lines if since is None or line.stamp_ns >= since]


def render(lines: Iterable[LogLine], timestamps: bool) -> bytes:
    if timestamps:
        return "".join(f"{rfc3339_nano(line.stamp_ns)} {line.text}\n" for line in lines).encode()
    return "".join(f"{line.text}\n" for line in lines).encode()


async def serve_log(
    request: web.Request, pod: Obj, logs: ContainerLogs, options: LogOptions
) -> web.StreamResponse:
    """Answer a `pods/log` GET for `pod` (already found) with `options` (already validated)."""
    container = container_of(pod, options.container)
    if check_container_state(pod, container, options.previous):
        logs.terminate(pod, container)  # a stopped container writes nothing more
    log = logs.log(pod["metadata"]["uid"], container)
    lines = first_lines(log, options, time.time_ns())
    budget = options.limit_bytes
    body = render(lines, options.timestamps)
    if budget is not None:
        body = body[:budget]
        budget -= len(body)
    if not options.follow or (budget is not None and budget <= 0):
        return web.Response(body=body, content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    epoch = logs.epoch
    next_sequence = lines[-1].sequence + 1 if lines else log.next_sequence
    try:
        if body:
            await response.write(body)
        while budget is None or budget > 0:
            fresh = log.since(next_sequence)
            if fresh:
                next_sequence = fresh[-1].sequence + 1
                chunk = render(fresh, options.timestamps)
                if budget is not None:
                    chunk = chunk[:budget]
                    budget -= len(chunk)
                await response.write(chunk)
            elif log.terminated or logs.epoch != epoch:
                break
            else:
                await log.changed()
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to send
    return response
