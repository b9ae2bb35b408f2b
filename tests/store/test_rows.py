"""Rows <-> events: every event the parser makes is stored and read back as the same event; a run's
manifest becomes its row; hostile values stay bounded."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.redact import REDACTED
from bot.core.transcript import (
    Assistant,
    Event,
    Init,
    Other,
    PlainText,
    Result,
    TextBlock,
    ToolResult,
    ToolUse,
    Usage,
    User,
    parse_line,
)
from bot.sandbox.agent import NAMES, recorded
from bot.store.rows import (
    MAX_INPUT_ITEMS,
    MAX_INPUT_STRING,
    PhaseChange,
    bounded,
    dump,
    event_data,
    load,
    phase_record,
    run_record,
    stored_event,
    timestamp,
)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(Init("s", "claude-x", "/w", ("Bash", "Edit"), "bypassPermissions"), id="init"),
        pytest.param(
            Assistant("m1", "claude-x", (TextBlock("hi"), ToolUse("t1", "Bash", {"command": "ls"}))),
            id="assistant with text and a tool call",
        ),
        pytest.param(User((ToolResult("t1", "out", True), TextBlock("prompt"))), id="user with a result"),
        pytest.param(
            Result("success", False, "done", 3, 1200, 0.5, Usage(1, 2, 3, 4), "s"), id="result with usage"
        ),
        pytest.param(Result("error_max_turns", True), id="result without extras"),
        pytest.param(PlainText("+ cloning"), id="plain text"),
        pytest.param(Other("future_type"), id="an unknown type"),
    ],
)
def test_each_kind_of_event_is_read_back_as_it_was_stored(event: Event) -> None:
    kind, data = event_data(event)
    assert stored_event(kind, load(dump(data))) == event


@pytest.mark.parametrize("name", NAMES)
def test_every_line_of_the_recorded_transcripts_survives_the_store(name: str) -> None:
    for _, line in recorded(name):
        event = parse_line(line)
        kind, data = event_data(event)
        assert stored_event(kind, load(dump(data))) == event


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_tool_input_is_stored_as_json(value: Any) -> None:
    event = Assistant(None, None, (ToolUse("t", "Write", {"content": value}),))
    kind, data = event_data(event)
    assert isinstance(stored_event(kind, load(dump(data))), Assistant)


def test_long_and_deep_tool_inputs_are_bounded() -> None:
    deep: Any = "bottom"
    for _ in range(20):
        deep = [deep]
    shown = bounded({"content": "x" * (MAX_INPUT_STRING + 10), "many": list(range(500)), "deep": deep})
    assert len(shown["content"]) == MAX_INPUT_STRING and shown["content"].endswith("…")
    assert len(shown["many"]) == MAX_INPUT_ITEMS
    assert "bottom" not in dump(shown)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("phase", {"phase": "Queued", "message": "behind run-0"}, PhaseChange("Queued", "behind run-0")),
        ("assistant", {"blocks": [{"type": "tool_use", "input": "not a dict"}, 7, {"type": "?"}]},
         Assistant(None, None, (ToolUse("", "?", {}),))),
        ("result", {"cost_usd": True, "usage": {"input_tokens": "x", "output_tokens": 5}},
         Result("unknown", False, usage=Usage(output_tokens=5))),
        ("init", {"tools": "Bash"}, Init(None, None, None)),
        ("text", {}, PlainText("")),
        ("from-a-newer-version", {}, Other("from-a-newer-version")),
    ],
)  # fmt: skip
def test_odd_stored_values_read_back_safely(kind: str, data: dict[str, Any], expected: Any) -> None:
    assert stored_event(kind, data) == expected


@pytest.mark.parametrize(("text", "expected"), [("", {}), ("[1]", {}), ("{bad", {}), ('{"a": 1}', {"a": 1})])
def test_a_json_column_reads_as_an_object(text: str, expected: dict[str, Any]) -> None:
    assert load(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2026-01-01T00:00:10Z", 1767225610.0), ("", None), (None, None), ("yesterday", None)],
)
def test_timestamps(value: Any, expected: float | None) -> None:
    assert timestamp(value) == expected


RUN: dict[str, Any] = {
    "kind": "CodeRun",
    "metadata": {
        "name": "code-5-trader-abc",
        "namespace": "orchestrator",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "annotations": {
            "orchestrator.platform/repository": "demo-org/trader",
            "orchestrator.platform/repository-html-url": "https://github.com/demo-org/trader",
            "orchestrator.platform/issue": "7",
            "orchestrator.platform/check-run-id": "30000000001",
            "orchestrator.platform/retry-of": "code-5-trader-000",
        },
    },
    "spec": {"githubUser": "alice", "model": "claude-x", "taskId": 5, "service": "trader"},
    "status": {
        "phase": "Failed",
        "message": "token ghp_" + "a" * 36 + " leaked",
        "lastUpdate": "2026-01-01T00:01:00Z",
        "progress": {"turns": 4, "costUsd": 0.2, "tail": ["not kept"], "todos": []},
    },
}


def test_a_runs_row_holds_what_the_page_and_the_list_show_redacted() -> None:
    record = run_record(RUN, now=5.0)
    assert (record.repository, record.user, record.phase, record.issue_number) == (
        "demo-org/trader",
        "alice",
        "Failed",
        7,
    )
    assert (record.created_at, record.finished_at, record.retry_of) == (
        1767225600.0,
        1767225660.0,
        "code-5-trader-000",
    )
    assert record.header["checkRunId"] == "30000000001"
    assert record.header["progress"] == {"turns": 4, "costUsd": 0.2, "todos": []}
    assert record.header["message"] == f"token {REDACTED} leaked"


def test_a_phase_row_is_keyed_by_the_phase() -> None:
    record = phase_record(RUN, now=5.0)
    assert record is not None
    assert (record.stream, record.seq, record.at, record.data["phase"]) == (
        "phase",
        5,
        1767225660.0,
        "Failed",
    )
    assert REDACTED in record.data["message"]
    assert phase_record({**RUN, "status": {}}, now=5.0) is None


def test_a_continuation_is_chained_to_the_run_it_continues() -> None:
    """`/code --continue` and a review make a run that continues another: the page links the two."""
    annotations = {**RUN["metadata"]["annotations"], "orchestrator.platform/continues": "code-5-trader-999"}
    del annotations["orchestrator.platform/retry-of"]
    continued = {**RUN, "metadata": {**RUN["metadata"], "annotations": annotations}}
    assert run_record(continued, now=5.0).retry_of == "code-5-trader-999"
