"""The transcript parser and its fold, over the real CLI's transcripts (bot/sandbox/recordings/claude-code-1.0.56/)
and over one-line rows; hostile, truncated and arbitrary lines never make it raise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import transcript
from bot.core.transcript import (
    MAX_DENIED_TOOLS,
    MAX_TOOLS_IN_FLIGHT,
    AgentProgress,
    Assistant,
    Init,
    Other,
    PlainText,
    Result,
    TextBlock,
    Todo,
    ToolResult,
    ToolUse,
    Usage,
    User,
    describe_tool,
    failure_reason,
    fold,
    fold_lines,
    outcome,
    parse_line,
)
from bot.sandbox.agent import RECORDINGS

FIXTURES = RECORDINGS
SESSION = "52f92e83-5280-4ca9-a3ef-9dbd753151fc"


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / f"claude-1.0.56-{name}.jsonl").read_text().splitlines()


@dataclass(frozen=True)
class Expected:
    lines: int
    todos: tuple[int, int]
    """(done, total)"""
    turns: int
    """what is shown: the result's num_turns"""
    replies: int
    """replies of the model counted from the lines"""
    cost: float
    outcome: str
    reason: str | None
    session: str


TRANSCRIPTS = {
    "success": Expected(17, (3, 3), 15, 7, 0.10135775, "success", None, SESSION),
    "error": Expected(
        8,
        (0, 3),
        6,
        2,
        0.06161575,
        "failure",
        'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}',
        "058a19ac-3788-4d5c-b6a7-1b6c0bce9a4c",
    ),
    "error529": Expected(
        8,
        (0, 3),
        6,
        2,
        0.06161575,
        "failure",
        'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        "1411ce31-4621-411b-98f6-87c20457f3ed",
    ),
    "max-turns": Expected(
        7,
        (0, 3),
        2,
        2,
        0.06141175,
        "failure",
        "The agent stopped at its turn limit (error_max_turns).",
        "134b07b8-0bb2-4236-9d05-7801466b685b",
    ),
    "error-during-execution": Expected(
        7,
        (0, 3),
        0,
        2,
        0.06730525,
        "failure",
        "The agent stopped with an error during execution (error_during_execution).",
        "0f3f678f-9532-43a8-88f2-e24302a160b5",
    ),
}


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_real_transcript_folds_to_its_summary(name: str) -> None:
    expected = TRANSCRIPTS[name]
    progress = fold_lines(fixture_lines(name))
    assert progress.lines == expected.lines
    assert (progress.todos_done, len(progress.todos)) == expected.todos
    assert progress.shown_turns == expected.turns
    assert progress.turns == expected.replies
    assert progress.cost_usd == pytest.approx(expected.cost)
    assert outcome(progress, ended=True) == expected.outcome
    assert failure_reason(progress, ended=True) == expected.reason
    assert progress.session_id == expected.session
    assert progress.model == "claude-sonnet-4-20250514"
    assert progress.cwd == "/workspace/trader"
    assert progress.denials == {}


def test_todo_list_changes_as_the_agent_works() -> None:
    progress = AgentProgress()
    seen: list[tuple[tuple[str, str], ...]] = []
    for line in fixture_lines("success"):
        progress = fold(progress, parse_line(line))
        state = tuple((t.content, t.status) for t in progress.todos)
        if state and (not seen or seen[-1] != state):
            seen.append(state)
    assert seen == [
        (
            ("Read src/orders.py", "in_progress"),
            ("Fix rounding in place_order", "pending"),
            ("Run the tests", "pending"),
        ),
        (
            ("Read src/orders.py", "completed"),
            ("Fix rounding in place_order", "in_progress"),
            ("Run the tests", "pending"),
        ),
        (
            ("Read src/orders.py", "completed"),
            ("Fix rounding in place_order", "completed"),
            ("Run the tests", "completed"),
        ),
    ]


def test_activity_follows_the_latest_step() -> None:
    lines = fixture_lines("success")
    activities = []
    progress = AgentProgress()
    for line in lines:
        progress = fold(progress, parse_line(line))
        activities.append(progress.activity)
    assert activities[2] == "TodoWrite: 0/3 done"
    assert activities[4] == "Bash: cat src/orders.py secrets.txt"
    assert activities[9] == "Edit src/orders.py"
    assert activities[11] == "Bash: python3 -m tests.test_orders"
    assert activities[-1] == "Finished"


def test_the_result_carries_tokens_and_duration() -> None:
    result = fold_lines(fixture_lines("success")).result
    assert result is not None
    assert result.usage == Usage(91, 511, 17425, 91560)
    assert (result.duration_ms, result.num_turns, result.subtype, result.is_error) == (
        2354,
        15,
        "success",
        False,
    )
    assert result.text is not None and result.text.startswith("Fixed the order rounding bug")


def test_the_api_error_line_is_kept_and_not_counted_as_a_reply() -> None:
    progress = fold_lines(fixture_lines("error")[:-1])
    assert progress.api_error is not None and progress.api_error.startswith("API Error: 500")
    assert progress.turns == 2
    assert outcome(progress, ended=False) == "running"


@pytest.mark.parametrize(
    ("name", "cut"), [(name, cut) for name in TRANSCRIPTS for cut in (0, 1, 3)], ids=lambda v: str(v)
)
def test_a_transcript_without_its_result_line_is_a_failure_once_it_ended(name: str, cut: int) -> None:
    lines = fixture_lines(name)
    progress = fold_lines(lines[: len(lines) - 1 - cut])
    assert progress.result is None
    assert outcome(progress, ended=False) == "running"
    assert failure_reason(progress, ended=False) is None
    assert outcome(progress, ended=True) == "failure"
    assert failure_reason(progress, ended=True) == (
        "The agent stopped without a result line (it crashed, ran out of memory or hit its deadline)."
    )


# --- one line at a time ------------------------------------------------------------------------------

LINES: list[tuple[str, str | bytes, Any]] = [
    (
        "init",
        '{"type":"system","subtype":"init","session_id":"s1","model":"m","cwd":"/w","tools":["Bash",3],'
        '"permissionMode":"default","apiKeySource":"ANTHROPIC_API_KEY"}',
        Init("s1", "m", "/w", ("Bash",), "default"),
    ),
    (
        "assistant text",
        '{"type":"assistant","message":{"id":"msg_1","model":"m","content":[{"type":"text","text":"hi"}]}}',
        Assistant("msg_1", "m", (TextBlock("hi"),)),
    ),
    (
        "assistant tool use",
        '{"type":"assistant","message":{"id":"msg_2","content":[{"type":"tool_use","id":"t1","name":"Bash",'
        '"input":{"command":"ls"}}]}}',
        Assistant("msg_2", None, (ToolUse("t1", "Bash", {"command": "ls"}),)),
    ),
    (
        "tool result as a string",
        '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"a\\nb"}]}}',
        User((ToolResult("t1", "a\nb", False),)),
    ),
    (
        "tool result as blocks",
        '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,'
        '"content":[{"type":"text","text":"x"},{"type":"image"},{"type":"text","text":"y"}]}]}}',
        User((ToolResult("t1", "x\ny", True),)),
    ),
    ("user text content", '{"type":"user","message":{"content":"continue"}}', User((TextBlock("continue"),))),
    (
        "result without a result key",
        '{"type":"result","subtype":"error_max_turns","is_error":false,"num_turns":2,"duration_ms":5,'
        '"total_cost_usd":0.5}',
        Result("error_max_turns", False, None, 2, 5, 0.5),
    ),
    (
        "result with odd field types",
        '{"type":"result","subtype":7,"is_error":"yes","num_turns":true,"duration_ms":-1,'
        '"total_cost_usd":"1","usage":[]}',
        Result("unknown", False),
    ),
    (
        "result with NaN cost",
        '{"type":"result","subtype":"success","total_cost_usd":NaN}',
        Result("success", False),
    ),
    (
        "script echo line",
        "cloning git@github.com:demo-org/trader.git",
        PlainText("cloning git@github.com:demo-org/trader.git"),
    ),
    (
        "crash trace",
        "Traceback (most recent call last):\r\n",
        PlainText("Traceback (most recent call last):"),
    ),
    (
        "truncated JSON",
        '{"type":"assistant","message":{"id":"msg_1","con',
        PlainText('{"type":"assistant","message":{"id":"msg_1","con'),
    ),
    ("JSON array", "[1, 2]", PlainText("[1, 2]")),
    ("JSON object of an unknown type", '{"type":"stream_event","x":1}', Other("stream_event")),
    ("JSON object without a type", '{"x":1}', Other("NoneType")),
    ("bytes with invalid UTF-8", b"caf\xe9 \xff", PlainText("caf\ufffd \ufffd")),
    ("control characters", "a\x00b\x1bc\td", PlainText("ab" + "c\td")),
    ("lone surrogate in JSON", '{"type":"user","message":{"content":"\\ud800x"}}', User((TextBlock("?x"),))),
    (
        "deeply nested JSON",
        '{"a":' + "[" * 100000 + "]" * 100000 + "}",
        PlainText('{"a":' + "[" * 3994 + "…"),
    ),
]


@pytest.mark.parametrize(("line", "event"), [row[1:] for row in LINES], ids=[row[0] for row in LINES])
def test_line_becomes_its_event(line: str | bytes, event: Any) -> None:
    assert parse_line(line) == event


TOOL_CALLS = [
    ("Bash", {"command": "cargo test\n--release", "description": "Run tests"}, "Bash: cargo test --release"),
    ("Bash", {"description": "Run tests"}, "Bash: Run tests"),
    ("Edit", {"file_path": "/workspace/trader/src/trader/orders.rs"}, "Edit src/trader/orders.rs"),
    ("MultiEdit", {"file_path": "/elsewhere/a.py", "edits": []}, "MultiEdit /elsewhere/a.py"),
    ("Write", {"file_path": "/workspace/trader/README.md", "content": "x"}, "Write README.md"),
    ("Read", {"file_path": "/workspace/trader/a.py", "offset": 1}, "Read a.py"),
    ("NotebookEdit", {"notebook_path": "/workspace/trader/n.ipynb"}, "NotebookEdit n.ipynb"),
    ("Grep", {"pattern": "TODO", "path": "/workspace/trader/src"}, 'Grep "TODO" in src'),
    ("Grep", {"pattern": "TODO"}, 'Grep "TODO"'),
    ("Glob", {"pattern": "**/*.rs"}, 'Glob "**/*.rs"'),
    ("LS", {"path": "/workspace/trader"}, "LS /workspace/trader"),
    ("WebFetch", {"url": "https://example.com", "prompt": "p"}, "WebFetch https://example.com"),
    ("WebSearch", {"query": "tokio select"}, 'WebSearch "tokio select"'),
    ("Task", {"description": "Find callers", "prompt": "p"}, "Task: Find callers"),
    (
        "TodoWrite",
        {"todos": [{"content": "a", "status": "completed"}, {"content": "b", "status": "pending"}]},
        "TodoWrite: 1/2 done",
    ),
    ("mcp__github__create_issue", {"title": "x"}, "MCP github: create_issue"),
    ("exit_plan_mode", {"plan": "p"}, "exit_plan_mode"),
    ("Bash", {"command": 42}, "Bash:"),
    ("Bash", {"command": "x" * 500}, "Bash: " + "x" * 153 + "…"),
]


@pytest.mark.parametrize(
    ("name", "given", "line"), TOOL_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(TOOL_CALLS)]
)
def test_tool_call_as_one_line(name: str, given: dict[str, Any], line: str) -> None:
    assert describe_tool(ToolUse("t", name, given), "/workspace/trader") == line


def test_todos_keep_only_valid_items_and_known_statuses() -> None:
    todos = transcript.todos_of(
        {
            "todos": [
                {"content": "a\nb", "status": "weird", "priority": "high", "id": "1"},
                {"status": "completed"},
                "x",
            ]
        }
    )
    assert todos == (Todo("a b", "pending", "high", "1"),)
    assert transcript.todos_of({"todos": "nope"}) == ()


def denial(tool_use_id: str, tool: str) -> str:
    return json.dumps(
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_use_id,
                        "is_error": True,
                        "content": f"Claude requested permissions to use {tool}, but you haven't granted it yet.",
                    }
                ],
            },
        }
    )


def test_permission_denials_are_counted_per_tool() -> None:
    progress = fold_lines(
        [denial("t1", "Bash"), denial("t2", "WebFetch"), denial("t3", "Bash"), fixture_lines("success")[3]]
    )
    assert progress.denials == {"Bash": 2, "WebFetch": 1}


def test_a_refusal_text_that_is_not_an_error_is_not_a_denial() -> None:
    line = json.loads(denial("t1", "Bash"))
    line["message"]["content"][0]["is_error"] = False
    assert fold_lines([json.dumps(line)]).denials == {}


def test_progress_stays_bounded_however_long_the_transcript() -> None:
    tool = '{{"type":"assistant","message":{{"id":"m{0}","content":[{{"type":"tool_use","id":"t{0}","name":"Bash","input":{{"command":"echo {0}"}}}}]}}}}'
    progress = fold_lines([tool.format(n) for n in range(2000)])
    progress = fold_lines([denial(f"d{n}", f"Tool{n}") for n in range(200)], progress)
    assert len(progress.tools_in_flight) == MAX_TOOLS_IN_FLIGHT
    assert len(progress.denials) == MAX_DENIED_TOOLS
    assert progress.turns == 2000 and progress.lines == 2200


# --- properties -----------------------------------------------------------------------------------------

ALL_LINES = [line for name in TRANSCRIPTS for line in fixture_lines(name)]


@pytest.mark.parametrize("line", ALL_LINES, ids=[f"line{i}" for i in range(len(ALL_LINES))])
def test_every_cut_of_a_real_line_parses_and_folds(line: str) -> None:
    progress = AgentProgress()
    for end in range(0, len(line), 7):
        progress = fold(progress, parse_line(line[:end]))
    assert progress.lines == len(range(0, len(line), 7))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "type",
        "subtype",
        "message",
        "content",
        "tool_use_id",
        "is_error",
        "input",
        "todos",
        "result",
        "usage",
        "id",
        "name",
    ]
)


def mutate(value: Any, path: list[str], replacement: Any) -> Any:
    """`value` with the first key of `path` found at each level replaced by `replacement`."""
    if not path:
        return replacement
    if isinstance(value, dict) and value:
        key = path[0] if path[0] in value else next(iter(value))
        return {**value, key: mutate(value[key], path[1:], replacement)}
    if isinstance(value, list) and value:
        return [mutate(value[0], path[1:], replacement), *value[1:]]
    return replacement


@settings(max_examples=300)
@given(index=st.integers(0, len(ALL_LINES) - 1), path=st.lists(KEYS, max_size=6), replacement=JSON)
def test_real_lines_with_a_value_replaced_never_crash(index: int, path: list[str], replacement: Any) -> None:
    line = json.dumps(mutate(json.loads(ALL_LINES[index]), path, replacement))
    progress = fold(AgentProgress(), parse_line(line))
    assert progress.lines == 1
    failure_reason(progress, ended=True)


@given(st.one_of(st.text(), st.binary(), JSON.map(json.dumps)))
def test_any_line_parses_and_folds(line: str | bytes) -> None:
    event = parse_line(line)
    progress = fold(fold(AgentProgress(), event), event)
    assert progress.lines == 2
    outcome(progress, ended=True)
