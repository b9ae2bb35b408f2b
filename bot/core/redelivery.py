"""Which failed webhook deliveries to ask GitHub to send again. Pure: the App's delivery log in, the
deliveries to redeliver out.

GitHub records every attempt to deliver a webhook (`GET /app/hook/deliveries`, newest first, kept for
three days) but never retries one by itself. The webhook answers 503 when it cannot store a run, so a
delivery that failed is one GitHub can send again (`POST /app/hook/deliveries/{id}/attempts`). The rules:
- failed means "not 2xx": our 503s and 500s, timeouts and refused connections (status code 0);
- a GUID that has one successful attempt is done, whatever its other attempts say;
- only recent failures (within `window`): an old command should not start hours after it was typed;
- each GUID at most once per process (`already_requested`), and at most `limit` per sweep, oldest
  first, so a delivery that fails for good cannot make the sweeper hammer GitHub.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One attempt, as an item of `GET /app/hook/deliveries` describes it."""

    id: int
    guid: str
    delivered_at: datetime
    status_code: int
    event: str = ""
    redelivery: bool = False

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


def delivery_from_api(item: Mapping[str, Any]) -> Delivery | None:
    """The attempt described by one list item, or None when the item lacks what the decision needs
    (such an item is left alone rather than guessed at)."""
    try:
        delivered_at = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00"))
        delivery = Delivery(
            id=int(item["id"]),
            guid=str(item["guid"]),
            delivered_at=delivered_at,
            status_code=int(item.get("status_code") or 0),
            event=str(item.get("event") or ""),
            redelivery=bool(item.get("redelivery")),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if delivered_at.tzinfo is None or not delivery.guid:
        return None
    return delivery


def older_than_window(delivery: Delivery, now: datetime, window: timedelta) -> bool:
    """True once the newest-first listing has gone past the window: every later item is older still."""
    return delivery.delivered_at < now - window


def to_redeliver(
    deliveries: Iterable[Delivery],
    *,
    now: datetime,
    window: timedelta,
    already_requested: Collection[str],
    limit: int,
) -> list[Delivery]:
    """The attempts to redeliver, oldest first: for each GUID that never succeeded, was not requested
    before and failed within `window`, its latest failed attempt; at most `limit` of them."""
    attempts = list(deliveries)
    done = {attempt.guid for attempt in attempts if attempt.succeeded}
    latest: dict[str, Delivery] = {}
    for attempt in attempts:
        if attempt.guid in done or attempt.guid in already_requested:
            continue
        if older_than_window(attempt, now, window):
            continue
        known = latest.get(attempt.guid)
        if known is None or (attempt.delivered_at, attempt.id) > (known.delivered_at, known.id):
            latest[attempt.guid] = attempt
    chosen = sorted(latest.values(), key=lambda attempt: (attempt.delivered_at, attempt.id))
    return chosen[: max(limit, 0)]
