"""Watch streams: newline-delimited JSON events (ADDED / MODIFIED / DELETED / ERROR / BOOKMARK).

Without a resourceVersion (or with "0") a watch starts with a synthetic ADDED for every existing
object; with one it replays the history after it, or sends an ERROR event carrying a 410 Expired
Status when the history no longer reaches back that far, as the apiserver's watch cache does.
An object that stops matching the selectors is reported DELETED, one that starts matching ADDED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.resources import ResourceType, view
from bot.sandbox.kube.selectors import FieldRequirement, Requirement, fields_match, labels_match
from bot.sandbox.kube.store import Store, StoredEvent
from bot.sandbox.kube.tables import to_table

Obj = dict[str, Any]
_IDLE_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class WatchRequest:
    rtype: ResourceType
    namespace: str | None
    labels: tuple[Requirement, ...]
    fields: tuple[FieldRequirement, ...]
    resource_version: str | None
    timeout_seconds: float | None
    table_version: str | None = None
    include_object: str = "Metadata"
    max_events: int | None = None
    force_expired: bool = False
    send_initial_events: bool = False
    allow_bookmarks: bool = False

    def selects(self, obj: Obj | None) -> bool:
        return obj is not None and labels_match(self.labels, obj) and fields_match(self.fields, obj)

    def concerns(self, event: StoredEvent) -> bool:
        return event.key == self.rtype.storage_key and (
            self.namespace is None or event.namespace == self.namespace
        )


def _as_seen(watch: WatchRequest, event: StoredEvent) -> tuple[str, Obj] | None:
    """The event this watcher sees, after its selectors: types change when matching starts or stops."""
    now, before = watch.selects(event.obj), watch.selects(event.previous)
    if event.type == "DELETED":
        return ("DELETED", event.obj) if before or now else None
    if now and not before:
        return ("ADDED", event.obj)
    if now and before:
        return (event.type, event.obj)
    if before and not now:
        return ("DELETED", event.obj)
    return None


def _initial(watch: WatchRequest, store: Store) -> list[tuple[str, Obj]]:
    return [
        ("ADDED", obj)
        for obj in store.list_objects(watch.rtype.storage_key, watch.namespace)
        if watch.selects(obj)
    ]


def _encode(watch: WatchRequest, event_type: str, obj: Obj) -> bytes:
    shown = view(watch.rtype, obj)
    if watch.table_version and event_type in ("ADDED", "MODIFIED", "DELETED"):
        shown = to_table(
            watch.rtype,
            [shown],
            watch.table_version,
            watch.include_object,
            shown["metadata"].get("resourceVersion"),
        )
    return json.dumps({"type": event_type, "object": shown}, separators=(",", ":")).encode() + b"\n"


def _bookmark(watch: WatchRequest, resource_version: int, initial_end: bool) -> bytes:
    metadata: Obj = {"resourceVersion": str(resource_version)}
    if initial_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": watch.rtype.kind, "apiVersion": watch.rtype.api_version, "metadata": metadata}
    return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"


def _error(error: ApiError) -> bytes:
    return json.dumps({"type": "ERROR", "object": error.to_status()}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(request: web.Request, store: Store, watch: WatchRequest) -> web.StreamResponse:
    queue = store.subscribe()  # subscribe first: nothing can happen between it and the snapshot below
    try:
        backlog: Iterable[bytes]
        if watch.force_expired:
            backlog = [_error(ApiError.expired(int(watch.resource_version or 0), store.resource_version))]
        elif watch.resource_version in (None, "", "0") or watch.send_initial_events:
            backlog = [_encode(watch, t, o) for t, o in _initial(watch, store)]
            if watch.send_initial_events and watch.allow_bookmarks:
                backlog = [*backlog, _bookmark(watch, store.resource_version, True)]
        else:
            try:
                since = int(watch.resource_version)
            except ValueError:
                raise ApiError.bad_request(f"invalid resource version: {watch.resource_version}") from None
            try:
                replay = store.events_after(since)
            except ApiError as expired:
                backlog = [_error(expired)]
            else:
                seen = (_as_seen(watch, e) for e in replay if watch.concerns(e))
                backlog = [_encode(watch, *s) for s in seen if s is not None]
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        await response.prepare(request)
        await _stream(request, response, queue, watch, list(backlog))
        return response
    finally:
        store.unsubscribe(queue)


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[StoredEvent | None],
    watch: WatchRequest,
    backlog: list[bytes],
) -> None:
    deadline = time.monotonic() + watch.timeout_seconds if watch.timeout_seconds else None
    sent = 0

    async def send(line: bytes) -> bool:
        nonlocal sent
        if watch.max_events is not None and sent >= watch.max_events:
            return False
        await response.write(line)
        sent += 1
        return not line.startswith(b'{"type":"ERROR"')

    with contextlib.suppress(ConnectionError):  # the client closed the stream
        for line in backlog:
            if not await send(line):
                return
        while True:
            wait = (
                _IDLE_CHECK_SECONDS
                if deadline is None
                else min(_IDLE_CHECK_SECONDS, deadline - time.monotonic())
            )
            if wait <= 0:
                return
            try:
                event = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    return  # the client went away
                continue
            if event is None:
                return  # the server is stopping
            if not watch.concerns(event):
                continue
            seen = _as_seen(watch, event)
            if seen is not None and not await send(_encode(watch, *seen)):
                return
