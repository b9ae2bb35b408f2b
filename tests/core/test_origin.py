"""Where a command came from, and the identity its runs are named by: taken from the signed body, so a
delivery replayed under another (unsigned) delivery id names the same runs."""

from __future__ import annotations

from typing import Any

import msgspec

from bot.core.commands.code import CodeArgs
from bot.core.events import IssueCommentEvent, IssuesEvent
from bot.core.origin import Origin
from bot.core.runs import code_run
from bot.core.taskconfig import TaskConfig
from bot.sandbox import payloads

REPO = payloads.RepoRef.parse("demo-org/trader")
ARGS = CodeArgs(task_id=5, service="trader")


def comment_delivery(comment_id: int = 1001) -> dict[str, Any]:
    comment = payloads.comment_object(REPO, 5, "/code 5 --service trader", "alice", comment_id=comment_id)
    return payloads.issue_comment_created(REPO, 5, comment, "alice", installation_id=1)


def label_delivery(updated_at: str | None = "2025-07-01T12:00:00Z") -> dict[str, Any]:
    data = payloads.issues_labeled(REPO, 5, "docs", "alice", installation_id=1)
    if updated_at is None:
        del data["issue"]["updated_at"]
    else:
        data["issue"]["updated_at"] = updated_at
    return data


def from_issue_comment(data: dict[str, Any], delivery_id: str) -> Origin:
    return msgspec.convert(data, IssueCommentEvent).origin(delivery_id)


def from_issue_labeled(data: dict[str, Any], delivery_id: str) -> Origin:
    return msgspec.convert(data, IssuesEvent).origin(delivery_id)


def test_a_comments_identity_is_its_id() -> None:
    origin = from_issue_comment(comment_delivery(1001), "guid-1")
    assert (origin.event_key, origin.run_identity) == ("comment-1001", "comment-1001")
    assert origin.delivery_id == "guid-1"  # still recorded, for tracing


def test_the_same_comment_under_two_delivery_ids_names_the_same_run(task_config: TaskConfig) -> None:
    first = code_run(ARGS, from_issue_comment(comment_delivery(), "guid-1"), 0, task_config, "ns")
    replayed = code_run(ARGS, from_issue_comment(comment_delivery(), "guid-2"), 0, task_config, "ns")
    other = code_run(ARGS, from_issue_comment(comment_delivery(1002), "guid-1"), 0, task_config, "ns")
    assert first["metadata"]["name"] == replayed["metadata"]["name"] != other["metadata"]["name"]
    assert replayed["metadata"]["annotations"]["orchestrator.platform/delivery"] == "guid-2"


def test_a_labels_identity_is_the_label_the_issue_and_when_it_was_added() -> None:
    data = label_delivery()
    origin = from_issue_labeled(data, "guid-1")
    assert origin.run_identity == f"label-docs-{data['issue']['id']}-2025-07-01T12:00:00Z"
    later = from_issue_labeled(label_delivery("2025-07-02T08:00:00Z"), "guid-1")
    assert later.run_identity != origin.run_identity
    elsewhere = {**data, "issue": {**data["issue"], "id": data["issue"]["id"] + 1}}
    assert from_issue_labeled(elsewhere, "guid-1").run_identity != origin.run_identity


def test_without_a_time_a_label_falls_back_to_the_delivery_id() -> None:
    origin = from_issue_labeled(label_delivery(None), "guid-1")
    assert (origin.event_key, origin.run_identity) == (None, "guid-1")
