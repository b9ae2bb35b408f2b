"""The page's live updates: one reader of the store per run that someone watches, however many watch.

While a run's page is open its script listens on `/runs/{ns}/{name}/live?after=<last row id>` (Server-
Sent Events). A `Watched` run polls the store every `poll_seconds` for rows after the last it saw and
for the run's row; what changed is rendered once (bot/core/runpage.py, the page's own macros) and put
in every watcher's queue. A watcher first catches up from its own `after` by itself, then takes the
shared updates past it, row by row, so nothing is shown twice or missed. When the run has finished and
no row came after, every watcher gets `done` and the reader stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core import runpage
from bot.errors import StoreUnavailable
from bot.store.rows import RunRecord, StoredEvent
from bot.web.context import WebContext

log = logging.getLogger(__name__)
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Update:
    rows: tuple[dict[str, Any], ...] = ()
    """Each row as {"id", "html", "tool"} (tool: the call a late result belongs to)."""
    header: str | None = None
    moments: str = ""
    done: bool = False
    resync: bool = False
    """The watcher fell behind (its queue was full): it catches up from its cursor by itself."""

    def after(self, cursor: int) -> Update:
        rows = tuple(row for row in self.rows if row["id"] > cursor)
        return Update(rows, self.header, self.moments, self.done, self.resync)

    def message(self) -> str:
        if self.done:
            return "event: done\ndata: {}\n\n"
        payload = {"rows": list(self.rows), "header": self.header, "moments": self.moments}
        # `id:` is what the browser sends back as Last-Event-ID when it reconnects.
        last = f"id: {max(row['id'] for row in self.rows)}\n" if self.rows else ""
        return f"event: update\n{last}data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _macro(context: WebContext, template: str, name: str) -> Callable[..., Any]:
    """A macro of one of the page's templates (macros are attributes of the template's module)."""
    macro: Callable[..., Any] = getattr(context.templates.get_template(template).module, name)
    return macro


def render_rows(context: WebContext, rows: list[StoredEvent], cwd: str | None) -> tuple[dict[str, Any], ...]:
    item_html = _macro(context, "_items.html.j2", "item")
    shown = [row for row in rows if row.kind != "phase"]  # phase changes go to the timeline
    return tuple(
        {
            "id": item.id,
            "html": str(item_html(item)),
            "tool": item.tool if item.kind == "result" else "",
            "error": item.error,
        }
        for item in runpage.transcript(shown, pair=False, cwd=cwd)
    )


def render_header(context: WebContext, run: RunRecord, retries: list[str]) -> str:
    head = runpage.header(run, context.clock(), retries=retries, web_url=context.web_url)
    return str(_macro(context, "_header.html.j2", "header_block")(head))


def render_moments(context: WebContext, run: RunRecord, rows: list[StoredEvent]) -> str:
    moment_html = _macro(context, "_header.html.j2", "moment")
    phases = [row for row in rows if row.kind == "phase"]
    return "".join(str(moment_html(moment)) for moment in runpage.timeline(run, phases)[1:])


@dataclass
class Watched:
    namespace: str
    name: str
    last: int
    queues: set[asyncio.Queue[Update]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    cwd: str | None = None


class LiveRuns:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self._watched: dict[tuple[str, str], Watched] = {}
        self.polls = 0

    @property
    def watched(self) -> int:
        return len(self._watched)

    @contextlib.asynccontextmanager
    async def watch(self, namespace: str, name: str, after: int) -> AsyncIterator[asyncio.Queue[Update]]:
        key = (namespace, name)
        watched = self._watched.get(key)
        if watched is None:
            watched = self._watched[key] = Watched(namespace, name, after)
            watched.task = asyncio.get_running_loop().create_task(self._poll(watched))
        queue: asyncio.Queue[Update] = asyncio.Queue(QUEUE_SIZE)
        watched.queues.add(queue)
        try:
            yield queue
        finally:
            watched.queues.discard(queue)
            if not watched.queues and self._watched.get(key) is watched:
                del self._watched[key]
                if watched.task is not None:
                    watched.task.cancel()

    async def close(self) -> None:
        for watched in list(self._watched.values()):
            if watched.task is not None:
                watched.task.cancel()
        self._watched.clear()

    async def _poll(self, watched: Watched) -> None:
        store = self.context.store
        seen: tuple[float, str | None] | None = None
        while watched.queues:
            self.polls += 1
            try:
                rows = await store.events(watched.namespace, watched.name, after=watched.last)
                run = await store.run(watched.namespace, watched.name)
            except StoreUnavailable as exc:
                log.info("live update of %s paused: %s", watched.name, exc)
                await asyncio.sleep(self.context.live_poll_seconds * 5)
                continue
            if run is None:
                return
            update = self._update(watched, run, rows, seen)
            seen = (run.updated_at, run.phase)
            if update is not None:
                self._send(watched, update)
            if run.phase not in runpage.ACTIVE_PHASES and not rows:
                self._send(watched, Update(done=True))
                return
            await asyncio.sleep(self.context.live_poll_seconds)

    def _update(
        self, watched: Watched, run: RunRecord, rows: list[StoredEvent], seen: tuple[float, str | None] | None
    ) -> Update | None:
        header = None
        if seen != (run.updated_at, run.phase):
            header = render_header(self.context, run, [])
        if not rows and header is None:
            return None
        for row in rows:
            if row.kind == "init" and isinstance(row.data.get("cwd"), str):
                watched.cwd = row.data["cwd"]
        rendered = render_rows(self.context, rows, watched.cwd)
        moments = "".join(render_moments(self.context, run, [row]) for row in rows if row.kind == "phase")
        if rows:
            watched.last = rows[-1].id
        return Update(rendered, header, moments)

    @staticmethod
    def _send(watched: Watched, update: Update) -> None:
        for queue in list(watched.queues):
            if queue.full():  # a slow watcher: it drops what waits and catches up from its cursor
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Update(resync=True))
                continue
            queue.put_nowait(update)
