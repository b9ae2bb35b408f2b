"""The activity log for people: the real transcripts, redacted as the log follower reads them, against
golden files (`UPDATE_GOLDEN=1 pytest tests/core/test_activity.py` rewrites them; never by hand), and
one row per kind of line and amount."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.activity import activity_lines, cost_text, duration_text, result_line
from bot.core.redact import redact
from bot.core.transcript import (
    AgentProgress,
    Event,
    Other,
    PlainText,
    Result,
    TextBlock,
    ToolResult,
    ToolUse,
    User,
    fold,
    parse_line,
)
from bot.sandbox.agent import RECORDINGS

FIXTURES = RECORDINGS
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "activity"


def activity_of(lines: list[str]) -> list[str]:
    progress, shown = AgentProgress(), []
    for line in lines:
        event = parse_line(redact(line))
        shown.extend(activity_lines(event, progress))
        progress = fold(progress, event)
    return shown


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_real_transcript_reads_as_its_golden_activity_log(path: Path) -> None:
    shown = "\n".join(activity_of(path.read_text().splitlines())) + "\n"
    golden = GOLDEN / f"{path.stem}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(shown, encoding="utf-8")
    assert shown == golden.read_text(encoding="utf-8")
    assert not any(line.startswith("{") for line in shown.splitlines())  # never a raw transcript line


WITH_TODO_CALL = fold(
    AgentProgress(cwd="/w"),
    parse_line(
        '{"type":"assistant","message":{"id":"m","content":[{"type":"tool_use","id":"todo1","name":"TodoWrite",'
        '"input":{"todos":[]}}]}}'
    ),
)
EVENTS: list[tuple[str, Event, tuple[str, ...]]] = [
    (
        "a tool result: first line and the count of the rest",
        User((ToolResult("t", "a\n\nb\nc", False),)),
        ("  ↳ a (+2 lines)",),
    ),
    ("an empty tool result", User((ToolResult("t", " \n", False),)), ("  ↳ (no output)",)),
    ("a failed tool", User((ToolResult("t", "exit 1", True),)), ("  ↳ ✗ exit 1",)),
    (
        "a refused tool",
        User(
            (
                ToolResult(
                    "t", "Claude requested permissions to use WebFetch, but you haven't granted it yet.", True
                ),
            )
        ),
        ("  ↳ ✗ permission to use WebFetch was not granted",),
    ),
    (
        "the answer to a TodoWrite is not shown",
        User((ToolResult("todo1", "Todos have been modified", False),)),
        (),
    ),
    ("a person's text", User((TextBlock("go on"),)), ("👤 go on",)),
    ("a script line", PlainText("pushed feature/task-5-trader"), ("pushed feature/task-5-trader",)),
    ("an empty script line", PlainText("  "), ()),
    ("an unknown JSON line", Other("stream_event"), ()),
    ("a tool block in a user line", User((ToolUse("t", "Bash", {}),)), ()),
]


@pytest.mark.parametrize(("event", "lines"), [row[1:] for row in EVENTS], ids=[row[0] for row in EVENTS])
def test_event_reads_as(event: Event, lines: tuple[str, ...]) -> None:
    assert activity_lines(event, WITH_TODO_CALL) == lines


@pytest.mark.parametrize(
    ("cost", "text"),
    [
        (None, "-"),
        (0.0, "$0.00"),
        (0.004, "<$0.01"),
        (0.42, "$0.42"),
        (0.10135775, "$0.10"),
        (1234.5, "$1,234.50"),
    ],
)
def test_cost_reads_as_dollars(cost: float | None, text: str) -> None:
    assert cost_text(cost) == text


@pytest.mark.parametrize(
    ("milliseconds", "text"), [(None, "-"), (2354, "2.4 s"), (61_000, "1m 1s"), (3_725_000, "1h 2m")]
)
def test_duration_reads_as(milliseconds: int | None, text: str) -> None:
    assert duration_text(milliseconds) == text


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (Result("success", False, "ok", 15, 2354, 0.42), "✅ finished (15 turns, 2.4 s, $0.42)"),
        (
            Result("success", True, "API Error: 500 boom", 6, 1394, 0.06),
            "❌ API Error: 500 boom (6 turns, 1.4 s, $0.06)",
        ),
        (Result("error_max_turns", False, None, 2, None, None), "❌ error_max_turns (2 turns, -, -)"),
        (Result("error_during_execution", False), "❌ error_during_execution (? turns, -, -)"),
    ],
    ids=["success", "is_error", "max turns", "during execution"],
)
def test_result_line(result: Result, line: str) -> None:
    assert result_line(result) == line
