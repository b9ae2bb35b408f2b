"""The redelivery sweeper: asks GitHub to send again the webhook deliveries we failed (inside the
`controller` role, only on the holder of the Lease).

When Kubernetes cannot store a run, the webhook answers 503 and GitHub records a failed delivery, but
GitHub never retries on its own. Every `interval` seconds this loop reads the App's delivery log with the
App's JWT (`GET /app/hook/deliveries`, newest first, following the `cursor` pages only as far back as
the window), lets `bot.core.redelivery.to_redeliver` pick the failures not yet recovered, and requests
each one again (`POST /app/hook/deliveries/{id}/attempts`). Run names are derived from the signed
event (the comment's id), so a redelivery of something that did get through makes no second run.

A sweep waits until Kubernetes answers again (`ready`): redelivering into the same outage would spend
the one request each GUID gets per process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from gidgethub import HTTPException

from bot.config import Settings
from bot.core.redelivery import Delivery, delivery_from_api, older_than_window, to_redeliver
from bot.errors import UpstreamUnavailable
from bot.github import GitHubApp, Sleep
from bot.kube import Kube

log = logging.getLogger(__name__)

MAX_PER_SWEEP = 25
"""GitHub counts redelivery requests against the App's rate limits; a few dozen a sweep is plenty."""
MAX_LISTED = 2000
"""At most this many log entries are read per sweep (20 pages of 100)."""
PAGE_SIZE = 100

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""None when the cause of our 503s (Kubernetes) answers again, else a short reason."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RedeliverySweeper:
    github: GitHubApp
    window: timedelta
    interval: float
    ready: ReadinessCheck | None = None
    max_per_sweep: int = MAX_PER_SWEEP
    page_size: int = PAGE_SIZE
    clock: Callable[[], datetime] = _utc_now
    sleep: Sleep = asyncio.sleep
    requested: set[str] = field(default_factory=set)
    """GUIDs this process has asked GitHub to redeliver (each at most once)."""

    async def run(self) -> None:
        """Sweep every `interval` seconds until cancelled; an interval of 0 turns the sweeper off."""
        if self.interval <= 0:
            log.info("the redelivery sweeper is off (ORCHESTRATOR_REDELIVERY_INTERVAL_SECONDS=0)")
            return
        while True:
            try:
                await self.sweep()
            except (UpstreamUnavailable, HTTPException, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("redelivery sweep failed: %s: %s", exc.__class__.__name__, exc)
            except Exception:  # a bug here must not stop the controller's other leader tasks
                log.exception("redelivery sweep failed")
            await self.sleep(self.interval)

    async def sweep(self) -> list[Delivery]:
        """One pass: the deliveries it asked GitHub to redeliver."""
        if self.ready is not None:
            reason = await self.ready()
            if reason is not None:
                log.info("redelivery sweep postponed: %s", reason)
                return []
        now = self.clock()
        chosen = to_redeliver(
            await self._recent_deliveries(now),
            now=now,
            window=self.window,
            already_requested=self.requested,
            limit=self.max_per_sweep,
        )
        asked = [delivery for delivery in chosen if await self._redeliver(delivery)]
        if asked:
            log.info("asked GitHub to redeliver %d failed deliveries", len(asked))
        return asked

    async def _recent_deliveries(self, now: datetime) -> list[Delivery]:
        client = self.github.app_client()
        found: list[Delivery] = []
        listed = 0
        async for item in client.getiter(
            "/app/hook/deliveries{?per_page}", {"per_page": str(self.page_size)}
        ):
            listed += 1
            delivery = delivery_from_api(item)
            if delivery is not None:
                if older_than_window(delivery, now, self.window):
                    break  # newest first: everything after this is older still
                found.append(delivery)
            if listed >= MAX_LISTED:
                break
        return found

    async def _redeliver(self, delivery: Delivery) -> bool:
        try:
            await self.github.app_client().post(
                "/app/hook/deliveries/{delivery_id}/attempts",
                url_vars={"delivery_id": str(delivery.id)},
                data=b"",
            )
        except HTTPException as exc:
            # Not marked as requested: the next sweep tries this GUID again.
            log.warning(
                "GitHub refused to redeliver %s (%s): %s", delivery.guid, delivery.id, exc.status_code.value
            )
            return False
        self.requested.add(delivery.guid)
        log.info(
            "asked GitHub to redeliver %s",
            delivery.guid,
            extra={
                "github_delivery": delivery.guid,
                "event": delivery.event,
                "status_code": delivery.status_code,
            },
        )
        return True


def sweeper_for(settings: Settings, github: GitHubApp, kube: Kube) -> RedeliverySweeper:
    """The controller's sweeper, from `ORCHESTRATOR_REDELIVERY_*`; it sweeps only while Kubernetes answers."""
    namespace = settings.orchestrator.namespace

    async def kubernetes_ready() -> str | None:
        return await kube.unreachable_reason(namespace)

    return RedeliverySweeper(
        github,
        window=timedelta(seconds=settings.orchestrator.redelivery_window_seconds),
        interval=settings.orchestrator.redelivery_interval_seconds,
        ready=kubernetes_ready,
    )
