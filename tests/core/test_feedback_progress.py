"""The agent's progress on GitHub: the tracking comment and the check run at each stage of a real
transcript, against golden files (`UPDATE_GOLDEN=1 pytest tests/core/test_feedback_progress.py`
rewrites them; never by hand), and the Markdown-safety of agent-written text."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from bot.core import feedback
from bot.core.activity import activity_lines
from bot.core.feedback import (
    CHECK_RUN_TEXT_LIMIT,
    check_run_text,
    code_span,
    markdown_text,
    milestone,
    run_view,
)
from bot.core.progress import TAIL_LINES, progress_status
from bot.core.redact import redact
from bot.core.transcript import AgentProgress, fold, parse_line
from bot.sandbox.agent import RECORDINGS

FIXTURES = RECORDINGS
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "feedback"


def run_with(
    name: str, lines: int | None, phase: str, message: str = "The agent exited with an error."
) -> dict[str, Any]:
    progress, tail = AgentProgress(), deque[str](maxlen=TAIL_LINES)
    for line in (FIXTURES / f"claude-1.0.56-{name}.jsonl").read_text().splitlines()[:lines]:
        event = parse_line(redact(line))
        tail.extend(activity_lines(event, progress))
        progress = fold(progress, event)
    ended = phase in ("Succeeded", "Failed", "Cancelled")
    return {
        "kind": "CodeRun",
        "metadata": {
            "name": "code-5-trader-0123456789",
            "namespace": "orchestrator",
            "creationTimestamp": "2025-07-01T12:00:00Z",
            "annotations": {
                "orchestrator.platform/repository": "demo-org/trader",
                "orchestrator.platform/issue": "5",
                "orchestrator.platform/installation-id": "42",
                "orchestrator.platform/head-sha": "a" * 40,
            },
        },
        "spec": {
            "taskId": 5,
            "service": "trader",
            "githubUser": "alice",
            "model": "claude-sonnet-4-20250514",
        },
        "status": {
            "phase": phase,
            "message": message,
            "lastUpdate": "2025-07-01T12:03:12Z",
            "progress": progress_status(progress, list(tail), ended=ended, updated_at="2025-07-01T12:03:10Z"),
        },
    }


STAGES = {
    "running-first-todos": ("success", 4, "Running"),
    "running-editing": ("success", 10, "Running"),
    "succeeded": ("success", None, "Succeeded"),
    "failed-during-execution": ("error-during-execution", None, "Failed"),
    "failed-api-error": ("error", None, "Failed"),
    "failed-without-result": ("success", 6, "Failed"),
    "cancelled": ("success", 6, "Cancelled"),
    "running-before-any-todo": ("success", 2, "Running"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_comment_and_check_run_at_each_stage_match_their_golden_files(stage: str) -> None:
    view = run_view(run_with(*STAGES[stage]))
    state = feedback.check_run_state(view)
    shown = (
        f"{feedback.tracking_comment(view)}\n\n===== check run: {state['output']['title']}\n\n"
        f"{state['output']['summary']}\n\n===== text\n\n{state['output'].get('text')}\n"
    )
    golden = GOLDEN / f"{stage}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(shown, encoding="utf-8")
    assert shown == golden.read_text(encoding="utf-8")


def test_the_final_comment_has_result_turns_duration_and_cost() -> None:
    body = feedback.tracking_comment(run_view(run_with("success", None, "Succeeded")))
    assert "**Result:** ✅ success · 15 turns · 2.4 s · $0.10" in body
    assert "**Now:**" not in body and "Comment `/cancel`" not in body


def test_a_failure_offers_retry_and_shows_the_error_first_in_the_check_run() -> None:
    view = run_view(run_with("error-during-execution", None, "Failed"))
    state = feedback.check_run_state(view)
    assert [a["identifier"] for a in state["actions"]] == ["retry"]
    assert state["output"]["text"].startswith("**Error:** The agent stopped with an error during execution")


def test_no_progress_no_extra_text() -> None:
    run = run_with("success", 0, "Pending")
    del run["status"]["progress"]
    view = run_view(run)
    assert check_run_text(view) is None and "text" not in feedback.check_run_state(view)["output"]
    assert "Todos" not in feedback.tracking_comment(view)


def test_the_check_run_text_stays_within_githubs_limit() -> None:
    run = run_with("success", None, "Running")
    run["status"]["progress"]["tail"] = ["x" * 1000 + "`" * 5] * 200
    text = check_run_text(run_view(run))
    assert text is not None and len(text) <= CHECK_RUN_TEXT_LIMIT
    assert "``````text" in text  # the fence is longer than any backtick run inside


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Fix *all* the [links](http://x)", "Fix \\*all\\* the \\[links\\]\\(http://x\\)"),
        ("ping @alice and @org/team", "ping @\u200balice and @\u200borg/team"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert\\(1\\)&gt;"),
        ("two\nlines", "two lines"),
        ("a | b", "a \\| b"),
    ],
    ids=["markdown", "mentions", "html", "newlines", "table pipe"],
)
def test_agent_text_is_shown_as_plain_text(text: str, shown: str) -> None:
    assert markdown_text(text) == shown


@pytest.mark.parametrize(
    ("text", "span"),
    [("cargo test", "`cargo test`"), ("echo `date`", "`` echo `date` ``"), ("a ``` b", "````a ``` b````")],
)
def test_activity_is_shown_as_code(text: str, span: str) -> None:
    assert code_span(text) == span


def test_milestones_are_phase_pull_request_result_and_final_message() -> None:
    running = run_view(run_with("success", 10, "Running"))
    later = run_view(run_with("success", 14, "Running"))
    finished = run_view(run_with("success", None, "Running"))
    assert milestone(running) == milestone(later)  # progress alone
    assert milestone(running) != milestone(finished)  # the result line arrived
