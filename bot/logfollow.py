"""The controller's log follower: the one reader of the agents' logs (inside the `controller` role).

It watches the Pods of agent Jobs and, for each Pod whose agent container has started, follows that
container's log (`pods/log`, `follow`, `timestamps`): each line is redacted, parsed into a transcript
event, folded into the run's AgentProgress and read for the activity log; the run's `status.progress`
is written at most every `STATUS_INTERVAL` seconds and only when it changed (bot/core/progress.py).
The reporter shows it on GitHub from the run, as it shows everything else.

- One stream per Pod. A stream that breaks is opened again from `sinceTime` (whole seconds), and the
  lines already read are skipped by their timestamps: nothing is counted twice.
- After a controller restart (or a new leader) the log is read again from its start: the progress is
  the same as before, so nothing is written or reported again, and nothing is lost.
- A container that is still waiting answers 400: asked again shortly. When the Pod goes, or its agent
  container stops and the stream has ended, the follower writes the last progress (`ended`) and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException

from bot.core import progress as status_of
from bot.core.activity import activity_lines
from bot.core.jobs import CONTAINER_NAME
from bot.core.progress import AgentPod, Cursor, agent_pod, is_new, since_time, split_timestamp
from bot.core.redact import NO_SECRETS, Secrets, redact_stream_line
from bot.core.runs import MANAGED_BY
from bot.core.transcript import AgentProgress, Event, fold, parse_line
from bot.errors import KubernetesUnavailable
from bot.kube import Kube, kubernetes_failures

log = logging.getLogger(__name__)

POD_SELECTOR = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
WATCH_TIMEOUT_SECONDS = 240
EventSink = Callable[[AgentPod, int, int | None, Event], None]
"""Called with (Pod, line number in its log from 1, the line's timestamp in ns, the redacted event)
for every line read: the run store's writer (bot/store/writer.py). It must not block."""
MAX_LINE_BYTES = 1024 * 1024
"""A longer line is cut there (and then reads as plain text): memory stays bounded."""


@dataclass(frozen=True)
class FollowOptions:
    namespace: str
    status_interval: float = status_of.STATUS_INTERVAL
    retry_seconds: float = 1.0
    container: str = CONTAINER_NAME
    max_line_bytes: int = MAX_LINE_BYTES


@dataclass
class Followed:
    """One Pod's log as read so far, and what was last written of it."""

    target: AgentPod
    progress: AgentProgress
    tail: deque[str]
    cursor: Cursor | None = None
    ended: bool = False
    written: dict[str, Any] | None = None
    last_write_at: float | None = None
    stream_stamp: int | None = None
    """The timestamp of the stream's last line, and how many lines of the stream had it."""
    stream_index: int = 0
    in_key: bool = False
    """A private key block printed over several lines is open (its lines are redacted whole)."""


class LogFollower:
    def __init__(
        self,
        kube: Kube,
        options: FollowOptions,
        secrets: Secrets = NO_SECRETS,
        clock: Callable[[], float] = time.monotonic,
        on_event: EventSink | None = None,
    ) -> None:
        self.kube = kube
        self.on_event = on_event
        self.options = options
        self.secrets = secrets
        self.clock = clock
        self._following: dict[str, asyncio.Task[None]] = {}
        self._finished: set[str] = set()
        """Pods whose log has been read to its end (until they are deleted)."""
        self._group: asyncio.TaskGroup | None = None

    @property
    def following(self) -> int:
        return len(self._following)

    # --- which Pods ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch the agent Pods and follow each one's log; until cancelled (the Lease is lost)."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._watch_pods()
        finally:
            self._group = None
            self._following.clear()

    async def _watch_pods(self) -> None:
        core, namespace = self.kube.core, self.options.namespace
        while True:
            try:
                with kubernetes_failures("listing agent Pods"):
                    listing = await core.list_namespaced_pod(namespace, label_selector=POD_SELECTOR)
                for pod in listing.items:
                    self._on_pod(self.kube.api.sanitize_for_serialization(pod), deleted=False)
                version = listing.metadata.resource_version
                while True:
                    stream = watch.Watch()
                    async with stream:
                        async for event in stream.stream(
                            core.list_namespaced_pod,
                            namespace,
                            label_selector=POD_SELECTOR,
                            resource_version=version,
                            timeout_seconds=WATCH_TIMEOUT_SECONDS,
                        ):
                            self._on_pod(event["raw_object"], deleted=event["type"] == "DELETED")
                        version = stream.resource_version or version
            except (KubernetesUnavailable, ApiException, OSError, aiohttp.ClientError) as exc:
                log.warning("watch of agent Pods interrupted: %s; listing again", exc)
                await asyncio.sleep(self.options.retry_seconds)

    def _on_pod(self, pod: dict[str, Any], deleted: bool) -> None:
        target = agent_pod(pod, self.options.container)
        if target is None:
            return
        if deleted:
            self._finished.discard(target.uid)
            return
        if target.state in ("running", "terminated") and target.uid not in self._following:
            if target.uid in self._finished or self._group is None:
                return
            task = self._group.create_task(self._follow(target))
            self._following[target.uid] = task
            task.add_done_callback(lambda _: self._following.pop(target.uid, None))

    # --- one Pod ---------------------------------------------------------------------------------

    async def _follow(self, target: AgentPod) -> None:
        """Read one Pod's log to its end; never raises (a failure here must not stop the others)."""
        state = Followed(target, AgentProgress(), deque(maxlen=status_of.TAIL_LINES))
        changed = asyncio.Event()
        writer: asyncio.Task[None] | None = None
        try:
            state.written = await self._last_written(target)
            writer = asyncio.create_task(self._write_progress(state, changed))
            await self._read(state, changed)
            state.ended = True
            writer.cancel()
            await self._write_now(state)
            self._finished.add(target.uid)
        except Exception:
            log.exception("following the log of %s failed", target.pod, extra={"run": target.run})
        finally:
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer

    async def _read(self, state: Followed, changed: asyncio.Event) -> None:
        target = state.target
        while True:
            state.stream_stamp, state.stream_index = None, 0
            try:
                async for line in self._stream(target, state.cursor):
                    if self._take(state, line):
                        changed.set()
            except ApiException as exc:
                if exc.status == 404:
                    return  # the Pod is gone
                if exc.status != 400:  # 400: the container is still waiting to start
                    raise
            except (KubernetesUnavailable, OSError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("log stream of %s broke (%s); resuming", target.pod, exc, extra={"run": target.run})
            try:
                if await self._stopped(target):
                    return
            except (KubernetesUnavailable, OSError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("cannot read Pod %s (%s); trying again", target.pod, exc, extra={"run": target.run})
            await asyncio.sleep(self.options.retry_seconds)

    def _take(self, state: Followed, raw: str) -> bool:
        """Fold one line of the stream into the state; False for a line read before (a resumed
        stream starts at the whole second of the last line read)."""
        stamp, text = split_timestamp(raw)
        if stamp is not None and stamp == state.stream_stamp:
            state.stream_index += 1
        else:
            state.stream_stamp, state.stream_index = stamp, 0
        if not is_new(state.cursor, stamp, state.stream_index):
            return False
        if stamp is not None:
            state.cursor = Cursor(stamp, state.stream_index + 1)
        text, state.in_key = redact_stream_line(text, state.in_key, self.secrets)
        event = parse_line(text)
        state.tail.extend(activity_lines(event, state.progress))
        state.progress = fold(state.progress, event)
        if self.on_event is not None:
            self.on_event(state.target, state.progress.lines, stamp, event)
        return True

    async def _stopped(self, target: AgentPod) -> bool:
        """After a stream ended: True when the Pod is gone or its agent container has stopped."""
        with kubernetes_failures(f"reading Pod {target.pod}"):
            try:
                pod = await self.kube.api.call_api(
                    "/api/v1/namespaces/{namespace}/pods/{name}",
                    "GET",
                    path_params={"namespace": self.options.namespace, "name": target.pod},
                    header_params={"Accept": "application/json"},
                    response_types_map={200: "object"},
                    auth_settings=["BearerToken"],
                    _return_http_data_only=True,
                    _request_timeout=10,
                )
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
        now = agent_pod(pod, self.options.container)
        return now is None or now.uid != target.uid or now.state == "terminated"

    async def _stream(self, target: AgentPod, cursor: Cursor | None) -> AsyncIterator[str]:
        """The lines of the agent container's log, followed, each with its timestamp."""
        query: list[tuple[str, str]] = [
            ("container", self.options.container),
            ("follow", "true"),
            ("timestamps", "true"),
        ]
        if cursor is not None:
            query.append(("sinceTime", since_time(cursor.stamp_ns)))
        response = await self.kube.api.call_api(
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            "GET",
            path_params={"namespace": self.options.namespace, "name": target.pod},
            query_params=query,
            header_params={"Accept": "*/*"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(sock_connect=10),
        )
        async with response:
            if response.status >= 300:
                body = await response.text()
                raise ApiException(status=response.status, reason=body[:500])
            async for line in _lines(response.content, self.options.max_line_bytes):
                yield line

    # --- status.progress ---------------------------------------------------------------------------

    async def _last_written(self, target: AgentPod) -> dict[str, Any] | None:
        """The progress the run shows now (so that reading the log again writes nothing new)."""
        try:
            run = await self.kube.get_run(target.kind, self.options.namespace, target.run)
        except (KubernetesUnavailable, ApiException) as exc:
            log.info("cannot read %s %s (%s)", target.kind, target.run, exc, extra={"run": target.run})
            return None
        written = ((run or {}).get("status") or {}).get("progress")
        return written if isinstance(written, dict) else None

    def _snapshot(self, state: Followed) -> dict[str, Any]:
        return status_of.progress_status(
            state.progress,
            list(state.tail),
            ended=state.ended,
            updated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            secrets=self.secrets,
        )

    async def _write_progress(self, state: Followed, changed: asyncio.Event) -> None:
        """Write the run's progress when it changed, at most every `status_interval` seconds."""
        while True:
            await changed.wait()
            changed.clear()
            delay = status_of.write_delay(
                state.written,
                self._snapshot(state),
                state.last_write_at,
                self.clock(),
                self.options.status_interval,
            )
            if delay is None:
                continue
            if delay > 0:
                await asyncio.sleep(delay)
            await self._write_now(state)

    async def _write_now(self, state: Followed) -> None:
        snapshot = self._snapshot(state)
        if status_of.write_delay(state.written, snapshot, None, self.clock()) is None:
            return
        if await self._patch(state.target, snapshot):
            state.written, state.last_write_at = snapshot, self.clock()

    async def _patch(self, target: AgentPod, snapshot: dict[str, Any]) -> bool:
        try:
            await self.kube.patch_run_status(
                target.kind, self.options.namespace, target.run, {"progress": snapshot}
            )
        except ApiException as exc:
            if exc.status != 404:
                log.warning("could not write the progress of %s: %s", target.run, exc.reason)
            return False
        except KubernetesUnavailable as exc:
            log.warning("could not write the progress of %s: %s", target.run, exc)
            return False
        return True


async def _lines(content: aiohttp.StreamReader, max_bytes: int) -> AsyncIterator[str]:
    """Lines of a byte stream; a line longer than `max_bytes` is cut there (the rest is dropped)."""
    buffer = bytearray()
    dropping = False
    async for chunk in content.iter_any():
        parts = chunk.split(b"\n")
        for index, part in enumerate(parts):
            if not dropping:
                room = max_bytes - len(buffer)
                buffer += part[:room]
                dropping = len(part) > room
            if index < len(parts) - 1:  # a newline follows
                yield buffer.decode("utf-8", "replace")
                buffer.clear()
                dropping = False
    if buffer:
        yield buffer.decode("utf-8", "replace")
