"""The controller's writer: what the log follower and the run watch give it reaches the store in
batches, and nothing waits for the database.

- `add_event` (called by the log follower for each line) and `on_run` (a run listener of the
  controller) only append to memory and wake the flusher; they never block and never raise.
- `run` writes what is buffered every `flush_seconds`, up to `batch_size` events per transaction.
  When the store fails, the rows stay buffered and are written again with backoff once it answers:
  nothing is lost, and nothing is stored twice (rows are keyed). The buffer holds at most
  `max_buffered` events; past that new events are dropped and counted (`dropped`).
- `retain` removes runs that finished more than `retention_days` ago, and expired sessions.

Progress on GitHub never depends on this: an outage shows in the controller's `/readyz` detail and in
the `orchestrator_store_*` metrics, and the tracking comment and check run go on as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.progress import AgentPod
from bot.core.redact import NO_SECRETS, Secrets
from bot.core.transcript import Event
from bot.errors import StoreUnavailable
from bot.store.base import Store
from bot.store.rows import EventRecord, RunRecord, event_record, phase_record, run_record

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class WriterOptions:
    flush_seconds: float = 0.25
    batch_size: int = 2_000
    max_buffered: int = 200_000
    """Events kept through an outage (~1,000 s of a 200-lines-a-second run)."""
    min_backoff: float = 0.5
    max_backoff: float = 30.0
    retention_days: float = 30.0
    retention_interval: float = 3_600.0


class StoreWriter:
    def __init__(
        self,
        store: Store,
        options: WriterOptions | None = None,
        *,
        secrets: Secrets = NO_SECRETS,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.options = options or WriterOptions()
        self.secrets = secrets
        self.sleep = sleep
        self.now = now
        self._events: deque[EventRecord] = deque()
        self._runs: dict[tuple[str, str], RunRecord] = {}
        self._phases: dict[tuple[str, str], str] = {}
        self._wake = asyncio.Event()
        self.up: bool | None = None
        """None until the first write; then whether the last write succeeded."""
        self.last_error: str | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    # --- what comes in (never blocks) --------------------------------------------------------------

    def add_event(
        self, namespace: str, run: str, stream: str, seq: int, at: float | None, event: Event
    ) -> None:
        """One transcript line of a run, already redacted and parsed (bot/logfollow.py)."""
        self._add(event_record(namespace, run, stream, seq, at, event))

    def follower_sink(self, namespace: str) -> Callable[[AgentPod, int, int | None, Event], None]:
        """What the log follower calls for each line (`LogFollower(on_event=...)`)."""

        def sink(target: AgentPod, seq: int, stamp_ns: int | None, event: Event) -> None:
            at = None if stamp_ns is None else stamp_ns / 1e9
            self.add_event(namespace, target.run, target.uid, seq, at, event)

        return sink

    def _add(self, record: EventRecord) -> None:
        if len(self._events) >= self.options.max_buffered:
            self.dropped += 1
            return
        self._events.append(record)
        self._wake.set()

    async def on_run(self, run: dict[str, Any]) -> None:
        """Run listener of the controller's watch: the run's row, and its phase when it changed."""
        try:
            record = run_record(run, self.now(), self.secrets)
            phase = phase_record(run, self.now(), self.secrets)
        except (KeyError, TypeError, ValueError):
            log.warning("cannot keep run %s in the store", (run.get("metadata") or {}).get("name"))
            return
        key = (record.namespace, record.name)
        self._runs[key] = record
        if phase is not None and self._phases.get(key) != phase.data.get("phase"):
            self._phases[key] = str(phase.data.get("phase"))
            self._add(phase)
        self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._events)

    # --- writing -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write what comes in, until cancelled."""
        backoff = self.options.min_backoff
        while True:
            if not self._events and not self._runs:
                self._wake.clear()
                await self._wake.wait()
                await self.sleep(self.options.flush_seconds)  # let a batch gather
            if await self.flush():
                backoff = self.options.min_backoff
            else:
                await self.sleep(backoff)
                backoff = min(backoff * 2, self.options.max_backoff)

    async def flush(self) -> bool:
        """Write everything buffered now; False if the store failed (what is left stays buffered)."""
        while self._events or self._runs:
            events = [self._events[index] for index in range(min(self.options.batch_size, len(self._events)))]
            runs = dict(self._runs)
            try:
                await self.store.write(list(runs.values()), events)
            except StoreUnavailable as exc:
                self._failed(str(exc))
                return False
            except Exception as exc:  # a bug must not stop the writer: counted, kept, tried again
                log.exception("writing to the store failed")
                self._failed(f"{exc.__class__.__name__}: {exc}")
                return False
            for _ in events:
                self._events.popleft()
            for key, record in runs.items():
                if self._runs.get(key) is record:
                    del self._runs[key]
            self.written += len(events)
            if self.up is not True:
                log.info("the store is written again (%d events waiting)", len(self._events))
            self.up, self.last_error = True, None
        return True

    def _failed(self, reason: str) -> None:
        self.failures += 1
        if self.up is not False:
            log.warning("cannot write to the store (%s); %d events buffered", reason, len(self._events))
        self.up, self.last_error = False, reason

    async def close(self, within: float = 5.0) -> None:
        """Write what is buffered (for at most `within` seconds), then close the store."""
        try:
            async with asyncio.timeout(within):
                await self.flush()
        except TimeoutError:
            log.warning("closing the store with %d events unwritten", len(self._events))
        finally:
            await self.store.close()

    # --- retention ---------------------------------------------------------------------------------

    async def retain(self) -> None:
        """Remove old runs and expired sessions now and every `retention_interval` seconds."""
        while True:
            await self.retain_once()
            await self.sleep(self.options.retention_interval)

    async def retain_once(self) -> int:
        now = self.now()
        try:
            removed = await self.store.delete_finished_before(now - self.options.retention_days * DAY_SECONDS)
            await self.store.delete_expired_sessions(now)
        except StoreUnavailable as exc:
            log.warning("retention skipped: %s", exc)
            return 0
        if removed:
            log.info(
                "removed %d runs older than %g days from the store", removed, self.options.retention_days
            )
        return removed

    # --- what it reports ---------------------------------------------------------------------------

    def problem(self) -> str | None:
        """The readiness detail: None while the store is written (or not tried yet)."""
        if self.up is False:
            return (
                f"store: cannot write ({self.last_error}); {len(self._events)} events buffered, "
                f"{self.dropped} dropped; progress on GitHub goes on"
            )
        return None

    def detail(self) -> Mapping[str, Any]:
        return {
            "up": self.up,
            "buffered": len(self._events),
            "dropped": self.dropped,
            "written": self.written,
            **({"error": self.last_error} if self.last_error else {}),
        }


class StoreWriterMetrics(Collector):
    """`orchestrator_store_*`: whether the store is written, what waits, what was written and dropped."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def collect(self) -> Iterator[Metric]:
        writer = self.writer
        yield GaugeMetricFamily(
            "orchestrator_store_up",
            "1 while the run store is written, 0 during an outage.",
            value=0 if writer.up is False else 1,
        )
        yield GaugeMetricFamily(
            "orchestrator_store_buffered_events",
            "Transcript events waiting to be written.",
            value=writer.buffered,
        )
        yield CounterMetricFamily(
            "orchestrator_store_written_events",
            "Transcript events written to the store.",
            value=writer.written,
        )
        yield CounterMetricFamily(
            "orchestrator_store_dropped_events",
            "Transcript events dropped because the buffer was full during an outage.",
            value=writer.dropped,
        )
        yield CounterMetricFamily(
            "orchestrator_store_write_failures",
            "Batches the store refused or could not take.",
            value=writer.failures,
        )

    def describe(self) -> Iterator[Metric]:
        return self.collect()
