"""The controller's writer: batches, never blocks, buffers through an outage (bounded, overflow counted)
and loses nothing once the store is back; retention. On a real SQLite store that can be made to fail."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bot.core.progress import AgentPod
from bot.core.transcript import PlainText
from bot.errors import StoreUnavailable
from bot.store.rows import EventRecord, RunRecord
from bot.store.sqlite import SQLiteStore
from bot.store.writer import DAY_SECONDS, StoreWriter, StoreWriterMetrics, WriterOptions
from tests.flows.conftest import eventually

POD = AgentPod("CodeRun", "run-1", "run-1-abcde", "uid-1", "running")


class OutageStore(SQLiteStore):
    """A real SQLite store whose writes fail while `down` (the database is unreachable)."""

    down = False

    async def write(self, runs: Sequence[RunRecord], events: Sequence[EventRecord]) -> None:
        if self.down:
            raise StoreUnavailable("the PostgreSQL store failed: ConnectionRefusedError")
        await super().write(runs, events)


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    opened = OutageStore(tmp_path / "runs.sqlite3")
    yield opened
    await opened.close()


def manifest(
    phase: str | None, name: str = "run-1", last_update: str = "2026-01-01T00:00:10Z"
) -> dict[str, Any]:
    return {
        "kind": "CodeRun",
        "metadata": {
            "name": name,
            "namespace": "orchestrator",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {
                "orchestrator.platform/repository": "demo-org/trader",
                "orchestrator.platform/issue": "5",
            },
        },
        "spec": {"githubUser": "alice", "model": "m", "taskId": 5, "service": "trader"},
        "status": {"phase": phase, "lastUpdate": last_update} if phase else {},
    }


def feed(writer: StoreWriter, lines: range) -> None:
    sink = writer.follower_sink("orchestrator")
    for number in lines:
        sink(POD, number, number * 1_000_000_000, PlainText(f"line {number}"))


async def texts(store: SQLiteStore) -> list[str]:
    return [row.data["text"] for row in await store.events("orchestrator", "run-1") if row.kind == "text"]


async def test_lines_are_written_in_order_in_batches(store: OutageStore) -> None:
    writer = StoreWriter(store, WriterOptions(batch_size=7))
    feed(writer, range(1, 21))
    assert writer.buffered == 20  # nothing written yet: adding never waits for the database
    assert await writer.flush() is True
    assert await texts(store) == [f"line {n}" for n in range(1, 21)]
    assert (writer.buffered, writer.written, writer.up) == (0, 20, True)


async def test_an_outage_buffers_and_nothing_is_lost_or_doubled_once_the_store_is_back(
    store: OutageStore,
) -> None:
    writer = StoreWriter(store, WriterOptions(batch_size=4))
    feed(writer, range(1, 6))
    await writer.flush()
    store.down = True
    feed(writer, range(6, 16))
    assert await writer.flush() is False
    assert writer.up is False and writer.buffered == 10
    problem = writer.problem()
    assert problem is not None and "10 events buffered, 0 dropped" in problem
    feed(writer, range(1, 4))  # the log read again from its start (a controller restart)
    store.down = False
    assert await writer.flush() is True
    assert await texts(store) == [f"line {n}" for n in range(1, 16)]
    assert writer.problem() is None and writer.buffered == 0


async def test_past_the_buffer_new_lines_are_dropped_and_counted(store: OutageStore) -> None:
    writer = StoreWriter(store, WriterOptions(max_buffered=5))
    store.down = True
    feed(writer, range(1, 9))
    assert (writer.buffered, writer.dropped) == (5, 3)
    registry = CollectorRegistry()
    registry.register(StoreWriterMetrics(writer))
    await writer.flush()
    metrics = generate_latest(registry).decode()
    assert "orchestrator_store_up 0.0" in metrics
    assert "orchestrator_store_dropped_events_total 3.0" in metrics
    assert "orchestrator_store_buffered_events 5.0" in metrics
    store.down = False
    await writer.flush()
    assert await texts(store) == [f"line {n}" for n in range(1, 6)]


async def test_the_writer_backs_off_while_the_store_is_down_and_resumes(store: OutageStore) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:  # the injected clock: no real waiting
        delays.append(seconds)
        if len(delays) == 5:
            store.down = False
        await asyncio.sleep(0)

    async def drained() -> bool:
        return writer.buffered == 0

    writer = StoreWriter(
        store, WriterOptions(flush_seconds=0.25, min_backoff=0.5, max_backoff=2.0), sleep=sleep
    )
    store.down = True
    feed(writer, range(1, 4))
    task = asyncio.create_task(writer.run())
    await eventually(drained, within=5, what="the buffer written")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert delays[:5] == [0.5, 1.0, 2.0, 2.0, 2.0]  # doubling up to the maximum
    assert await texts(store) == ["line 1", "line 2", "line 3"]


async def test_a_run_is_kept_with_one_timeline_row_per_phase(store: OutageStore) -> None:
    writer = StoreWriter(store)
    for phase in (None, "Queued", "Queued", "Pending", "Running", "Running", "Succeeded"):
        await writer.on_run(manifest(phase))
    await writer.flush()
    rows = await store.events("orchestrator", "run-1")
    assert [row.data["phase"] for row in rows] == ["Queued", "Pending", "Running", "Succeeded"]
    run = await store.run("orchestrator", "run-1")
    assert run is not None and (run.phase, run.repository, run.issue_number) == (
        "Succeeded",
        "demo-org/trader",
        5,
    )
    assert run.finished_at == 1767225610.0


async def test_retention_removes_runs_finished_longer_ago_than_the_setting(store: OutageStore) -> None:
    now = 1767225610.0 + 31 * DAY_SECONDS
    writer = StoreWriter(store, WriterOptions(retention_days=30), now=lambda: now)
    await writer.on_run(manifest("Succeeded", "old"))
    await writer.on_run(manifest("Failed", "recent", last_update="2026-01-10T00:00:00Z"))
    await writer.on_run(manifest("Running", "active"))
    await writer.flush()
    assert await writer.retain_once() == 1
    assert [await store.run("orchestrator", n) is not None for n in ("old", "recent", "active")] == [
        False,
        True,
        True,
    ]
