"""Which failed deliveries the sweeper asks GitHub to redeliver: one table, one row per rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.redelivery import Delivery, delivery_from_api, older_than_window, to_redeliver

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=6)


def attempt(
    id: int, guid: str, status_code: int, minutes_ago: float, *, redelivery: bool = False
) -> Delivery:
    return Delivery(id, guid, NOW - timedelta(minutes=minutes_ago), status_code, "issue_comment", redelivery)


@dataclass(frozen=True)
class Row:
    id: str
    deliveries: list[Delivery]
    expected: list[int]
    already_requested: frozenset[str] = field(default_factory=frozenset)
    limit: int = 25


ROWS = [
    Row("nothing delivered, nothing to do", [], []),
    Row("a success is left alone", [attempt(1, "a", 200, 5)], []),
    Row("202 and 204 are successes too", [attempt(1, "a", 202, 5), attempt(2, "b", 204, 5)], []),
    Row("our 503 is redelivered", [attempt(1, "a", 503, 5)], [1]),
    Row("a 500 is redelivered", [attempt(1, "a", 500, 5)], [1]),
    Row("a timeout or refused connection (status 0) is redelivered", [attempt(1, "a", 0, 5)], [1]),
    Row("a 4xx is a failure as well", [attempt(1, "a", 401, 5)], [1]),
    Row("a 3xx is not a success", [attempt(1, "a", 302, 5)], [1]),
    Row(
        "a failure later recovered by a redelivery is done",
        [attempt(2, "a", 200, 1, redelivery=True), attempt(1, "a", 503, 5)],
        [],
    ),
    Row(
        "a success anywhere in the GUID's history makes it done",
        [attempt(2, "a", 503, 1, redelivery=True), attempt(1, "a", 200, 5)],
        [],
    ),
    Row(
        "several failed attempts of one GUID: only its latest is redelivered",
        [attempt(3, "a", 503, 1, redelivery=True), attempt(2, "a", 0, 3), attempt(1, "a", 503, 5)],
        [3],
    ),
    Row(
        "attempts at the same moment: the higher id is the later one",
        [attempt(1, "a", 503, 5), attempt(2, "a", 503, 5)],
        [2],
    ),
    Row("a failure older than the window is left alone", [attempt(1, "a", 503, 6 * 60 + 1)], []),
    Row("a failure exactly at the edge of the window is redelivered", [attempt(1, "a", 503, 6 * 60)], [1]),
    Row("a failure stamped in the future (clock skew) is redelivered", [attempt(1, "a", 503, -2)], [1]),
    Row(
        "a GUID this process already asked for is not asked for again",
        [attempt(2, "a", 503, 1, redelivery=True), attempt(1, "b", 503, 5)],
        [1],
        already_requested=frozenset({"a"}),
    ),
    Row(
        "oldest first, one per GUID",
        [attempt(3, "c", 503, 1), attempt(2, "b", 503, 2), attempt(1, "a", 503, 3), attempt(4, "d", 200, 0)],
        [1, 2, 3],
    ),
    Row(
        "at most `limit` per sweep, the oldest",
        [attempt(i, f"g{i}", 503, 100 - i) for i in range(1, 11)],
        [1, 2, 3],
        limit=3,
    ),
    Row("a limit of zero asks for nothing", [attempt(1, "a", 503, 5)], [], limit=0),
    Row("a negative limit asks for nothing", [attempt(1, "a", 503, 5)], [], limit=-1),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_to_redeliver(row: Row) -> None:
    chosen = to_redeliver(
        row.deliveries, now=NOW, window=WINDOW, already_requested=row.already_requested, limit=row.limit
    )
    assert [delivery.id for delivery in chosen] == row.expected


def test_the_deliveries_may_be_any_iterable() -> None:
    chosen = to_redeliver(
        iter([attempt(1, "a", 503, 5)]), now=NOW, window=WINDOW, already_requested=set(), limit=5
    )
    assert [delivery.guid for delivery in chosen] == ["a"]


def test_older_than_window_tells_the_listing_where_to_stop() -> None:
    assert older_than_window(attempt(1, "a", 503, 6 * 60 + 1), NOW, WINDOW)
    assert not older_than_window(attempt(1, "a", 503, 6 * 60), NOW, WINDOW)


# --- reading GitHub's list items ----------------------------------------------------------------------

ITEM: dict[str, Any] = {
    "id": 12345678,
    "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
    "delivered_at": "2019-06-03T00:57:16Z",
    "redelivery": False,
    "duration": 0.27,
    "status": "Invalid HTTP Response: 503",
    "status_code": 503,
    "event": "issue_comment",
    "action": "created",
    "installation_id": 123,
    "repository_id": 456,
    "throttled_at": None,
}


def test_a_list_item_from_githubs_documentation_is_read() -> None:
    assert delivery_from_api(ITEM) == Delivery(
        id=12345678,
        guid="0b989ba4-242f-11e5-81e1-c7b6966d2516",
        delivered_at=datetime(2019, 6, 3, 0, 57, 16, tzinfo=UTC),
        status_code=503,
        event="issue_comment",
        redelivery=False,
    )


@pytest.mark.parametrize(
    ("changes", "expected_status", "expected_event"),
    [
        pytest.param({"status_code": None}, 0, "issue_comment", id="no status code: counted as failed"),
        pytest.param({"event": None}, 503, "", id="no event name"),
        pytest.param({"delivered_at": "2019-06-03T00:57:16+00:00"}, 503, "issue_comment", id="offset form"),
    ],
)
def test_list_items_with_gaps_are_read(
    changes: dict[str, Any], expected_status: int, expected_event: str
) -> None:
    delivery = delivery_from_api({**ITEM, **changes})
    assert delivery is not None
    assert (delivery.status_code, delivery.event) == (expected_status, expected_event)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"id": None}, id="no id"),
        pytest.param({"id": "abc"}, id="id not a number"),
        pytest.param({"guid": ""}, id="empty guid"),
        pytest.param({"delivered_at": "yesterday"}, id="unreadable time"),
        pytest.param({"delivered_at": "2019-06-03T00:57:16"}, id="time without a zone"),
        pytest.param({"status_code": "five hundred"}, id="status code not a number"),
    ],
)
def test_list_items_the_decision_cannot_use_are_skipped(changes: dict[str, Any]) -> None:
    assert delivery_from_api({**ITEM, **changes}) is None


@pytest.mark.parametrize("missing", ["id", "guid", "delivered_at"])
def test_list_items_missing_a_key_are_skipped(missing: str) -> None:
    item = {key: value for key, value in ITEM.items() if key != missing}
    assert delivery_from_api(item) is None


def test_success_means_2xx() -> None:
    assert [attempt(1, "a", code, 0).succeeded for code in (199, 200, 299, 300, 0)] == [
        False,
        True,
        True,
        False,
        False,
    ]
