"""The agent's transcript: one stream-json line -> one event; events folded into `AgentProgress`.

The Job runs `claude -p --output-format stream-json --verbose`, which prints one JSON object per line
(types in `sdk.d.ts` / `sdk-tools.d.ts` of `@anthropic-ai/claude-code` 1.0.56; real transcripts in
bot/sandbox/recordings/claude-code-1.0.56/). Its script prints lines of its own, and a crash prints a trace:
lines that are not JSON become `PlainText`. Pure, no clock, and it never raises on any input: a
hostile, truncated or unknown line becomes `PlainText` or `Other`, and odd field types are ignored.

What the CLI taught us (bot/sandbox/recordings/claude-code-1.0.56/README.md): failure is not one subtype.
A run failed when its `result` line has `is_error: true`, or a subtype other than `success`, or when
no `result` line came at all. Usage on `assistant` lines is not final: tokens and cost come from the
`result` line. `num_turns` counts different things per subtype: shown, never computed with.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

TodoStatus = Literal["pending", "in_progress", "completed"]
TODO_STATUSES: tuple[TodoStatus, ...] = ("pending", "in_progress", "completed")
MAX_TODOS = 100
MAX_TODO_LENGTH = 300
MAX_TEXT_LENGTH = 4000
"""Texts kept in events (a tool's output, the final result) are cut to this many characters."""
LINE_WIDTH = 160
"""Activity lines for people are cut to this many characters."""
MAX_TOOLS_IN_FLIGHT = 64
MAX_DENIED_TOOLS = 50
SYNTHETIC_MODEL = "<synthetic>"
"""The model name of the assistant line the CLI writes itself to report an API error."""
_DENIAL = re.compile(r"Claude requested permissions to use (.{1,100}?), but you haven't granted it yet")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Todo:
    content: str
    status: TodoStatus
    priority: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    content: str
    is_error: bool


Block = TextBlock | ToolUse | ToolResult


@dataclass(frozen=True)
class Init:
    session_id: str | None
    model: str | None
    cwd: str | None
    tools: tuple[str, ...] = ()
    permission_mode: str | None = None


@dataclass(frozen=True)
class Assistant:
    message_id: str | None
    model: str | None
    blocks: tuple[Block, ...]

    @property
    def synthetic(self) -> bool:
        """Written by the CLI itself (an API error), not a reply of the model."""
        return self.model == SYNTHETIC_MODEL


@dataclass(frozen=True)
class User:
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True)
class Result:
    subtype: str
    is_error: bool
    text: str | None = None
    num_turns: int | None = None
    duration_ms: int | None = None
    cost_usd: float | None = None
    usage: Usage | None = None
    session_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.is_error or self.subtype != "success"


@dataclass(frozen=True)
class PlainText:
    """A line that is not a JSON object: the script's own output, a crash trace, a cut-off line."""

    text: str


@dataclass(frozen=True)
class Other:
    """A JSON object of a type this parser does not show (a newer CLI may add some)."""

    type: str


Event = Init | Assistant | User | Result | PlainText | Other


# --- parsing -----------------------------------------------------------------------------------------


def clean(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Text that is safe to store and send: valid UTF-8, no control characters but newline and tab,
    at most `limit` characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def _str(value: Any, limit: int = MAX_TEXT_LENGTH) -> str | None:
    return clean(value, limit) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _cost(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def parse_line(line: str | bytes) -> Event:
    """One line of the agent's stdout as an event; never raises."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    text = line.rstrip("\r\n")
    if not text.lstrip().startswith("{"):
        return PlainText(clean(text))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return PlainText(clean(text))
    if not isinstance(data, dict):
        return PlainText(clean(text))
    kind = data.get("type")
    message: dict[str, Any] = data["message"] if isinstance(data.get("message"), dict) else {}
    if kind == "system" and data.get("subtype") == "init":
        tools: list[Any] = data["tools"] if isinstance(data.get("tools"), list) else []
        return Init(
            session_id=_str(data.get("session_id"), 200),
            model=_str(data.get("model"), 200),
            cwd=_str(data.get("cwd"), 1000),
            tools=tuple(clean(t, 200) for t in tools[:200] if isinstance(t, str)),
            permission_mode=_str(data.get("permissionMode"), 100),
        )
    if kind == "assistant":
        return Assistant(_str(message.get("id"), 200), _str(message.get("model"), 200), _blocks(message))
    if kind == "user":
        return User(_blocks(message))
    if kind == "result":
        return _result(data)
    return Other(clean(kind, 100) if isinstance(kind, str) else type(kind).__name__)


def _blocks(message: Mapping[str, Any]) -> tuple[Block, ...]:
    content = message.get("content")
    if isinstance(content, str):
        return (TextBlock(clean(content)),)
    if not isinstance(content, list):
        return ()
    blocks: list[Block] = []
    for item in content[:100]:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text" and isinstance(item.get("text"), str):
            blocks.append(TextBlock(clean(item["text"])))
        elif kind == "tool_use":
            tool_input = item.get("input")
            blocks.append(
                ToolUse(
                    id=_str(item.get("id"), 200) or "",
                    name=_str(item.get("name"), 200) or "?",
                    input=tool_input if isinstance(tool_input, dict) else {},
                )
            )
        elif kind == "tool_result":
            blocks.append(
                ToolResult(
                    tool_use_id=_str(item.get("tool_use_id"), 200) or "",
                    content=_result_content(item.get("content")),
                    is_error=item.get("is_error") is True,
                )
            )
    return tuple(blocks)


def _result_content(content: Any) -> str:
    """A tool result's content: a string, or a list of blocks whose text parts are joined."""
    if isinstance(content, str):
        return clean(content)
    if isinstance(content, list):
        parts = [
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return clean("\n".join(parts))
    return ""


def _result(data: Mapping[str, Any]) -> Result:
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    return Result(
        subtype=_str(data.get("subtype"), 100) or "unknown",
        is_error=data.get("is_error") is True,
        text=_str(data.get("result")),
        num_turns=_int(data.get("num_turns")),
        duration_ms=_int(data.get("duration_ms")),
        cost_usd=_cost(data.get("total_cost_usd")),
        usage=None
        if usage is None
        else Usage(
            input_tokens=_int(usage.get("input_tokens")) or 0,
            output_tokens=_int(usage.get("output_tokens")) or 0,
            cache_creation_input_tokens=_int(usage.get("cache_creation_input_tokens")) or 0,
            cache_read_input_tokens=_int(usage.get("cache_read_input_tokens")) or 0,
        ),
        session_id=_str(data.get("session_id"), 200),
    )


def todos_of(tool_input: Mapping[str, Any]) -> tuple[Todo, ...]:
    """The whole todo list a TodoWrite call sends (`{"todos": [{content, status, priority, id}]}`)."""
    items = tool_input.get("todos")
    if not isinstance(items, list):
        return ()
    todos = []
    for item in items[:MAX_TODOS]:
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            continue
        status = item.get("status")
        todos.append(
            Todo(
                content=clean(item["content"], MAX_TODO_LENGTH).replace("\n", " "),
                status=status if status in TODO_STATUSES else "pending",
                priority=_str(item.get("priority"), 20),
                id=_str(item.get("id"), 100),
            )
        )
    return tuple(todos)


# --- folding -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentProgress:
    """What the transcript says so far. Bounded in size whatever the transcript's length."""

    session_id: str | None = None
    model: str | None = None
    cwd: str | None = None
    todos: tuple[Todo, ...] = ()
    activity: str | None = None
    """The current activity as one line for a person: "Edit src/orders.py", "Bash: cargo test"."""
    turns: int = 0
    """Replies of the model seen so far (one per message id; the CLI's own error lines excluded)."""
    result: Result | None = None
    api_error: str | None = None
    """The text of the last synthetic "API Error: ..." line."""
    lines: int = 0
    denials: Mapping[str, int] = field(default_factory=dict)
    """Tool-permission refusals per tool."""
    tools_in_flight: tuple[tuple[str, str], ...] = ()
    """(tool_use_id, tool name) of the latest calls, to name the tool a result belongs to."""
    last_message_id: str | None = None

    @property
    def todos_done(self) -> int:
        return sum(todo.status == "completed" for todo in self.todos)

    @property
    def cost_usd(self) -> float | None:
        return self.result.cost_usd if self.result else None

    @property
    def shown_turns(self) -> int:
        """The result line's `num_turns` once there is one, else the replies counted so far."""
        if self.result is not None and self.result.num_turns is not None:
            return self.result.num_turns
        return self.turns

    def tool_name(self, tool_use_id: str) -> str | None:
        return next((name for known, name in reversed(self.tools_in_flight) if known == tool_use_id), None)


def fold(progress: AgentProgress, event: Event) -> AgentProgress:
    """`progress` after one more line of the transcript."""
    changes: dict[str, Any] = {"lines": progress.lines + 1}
    if isinstance(event, Init):
        changes.update(session_id=event.session_id, model=event.model, cwd=event.cwd)
    elif isinstance(event, Assistant) and event.synthetic:
        text = next((b.text for b in event.blocks if isinstance(b, TextBlock)), None)
        changes.update(api_error=text, activity=one_line(text or "API error"))
    elif isinstance(event, Assistant):
        if event.message_id is None or event.message_id != progress.last_message_id:
            changes.update(turns=progress.turns + 1, last_message_id=event.message_id)
        changes.update(_assistant_changes(progress, event))
    elif isinstance(event, User):
        denials = _denials(progress, event.blocks)
        if denials is not None:
            changes["denials"] = denials
    elif isinstance(event, Result):
        changes.update(result=event, activity="Finished" if not event.failed else "Stopped")
        if event.session_id:
            changes["session_id"] = event.session_id
    return replace(progress, **changes)


def _assistant_changes(progress: AgentProgress, event: Assistant) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    in_flight = list(progress.tools_in_flight)
    for block in event.blocks:
        if isinstance(block, TextBlock) and block.text.strip():
            changes["activity"] = one_line(block.text)
        elif isinstance(block, ToolUse):
            if block.name == "TodoWrite":
                changes["todos"] = todos_of(block.input)
            changes["activity"] = describe_tool(block, progress.cwd)
            in_flight.append((block.id, block.name))
    if len(in_flight) != len(progress.tools_in_flight):
        changes["tools_in_flight"] = tuple(in_flight[-MAX_TOOLS_IN_FLIGHT:])
    return changes


def denied_tool(result: ToolResult) -> str | None:
    """The tool named in the CLI's answer to a refused tool call, if `result` is one."""
    if not result.is_error:
        return None
    match = _DENIAL.search(result.content[:500])
    return match.group(1) if match else None


def _denials(progress: AgentProgress, blocks: Iterable[Block]) -> dict[str, int] | None:
    counted: dict[str, int] | None = None
    for block in blocks:
        if not isinstance(block, ToolResult):
            continue
        tool = denied_tool(block)
        if tool is None:
            continue
        counted = dict(progress.denials) if counted is None else counted
        if tool in counted or len(counted) < MAX_DENIED_TOOLS:
            counted[tool] = counted.get(tool, 0) + 1
    return counted


def fold_lines(lines: Iterable[str | bytes], progress: AgentProgress | None = None) -> AgentProgress:
    progress = progress or AgentProgress()
    for line in lines:
        progress = fold(progress, parse_line(line))
    return progress


Outcome = Literal["running", "success", "failure"]


def outcome(progress: AgentProgress, ended: bool) -> Outcome:
    """`ended`: the transcript is complete (the agent's container has stopped)."""
    if progress.result is not None:
        return "failure" if progress.result.failed else "success"
    return "failure" if ended else "running"


def failure_reason(progress: AgentProgress, ended: bool) -> str | None:
    """Why the agent failed, in a sentence for a person; None while it runs or when it succeeded."""
    result = progress.result
    if result is None:
        if not ended:
            return None
        return "The agent stopped without a result line (it crashed, ran out of memory or hit its deadline)."
    if result.is_error:
        return result.text or progress.api_error or f"The agent reported an error ({result.subtype})."
    if result.subtype == "error_max_turns":
        return "The agent stopped at its turn limit (error_max_turns)."
    if result.subtype == "error_during_execution":
        return "The agent stopped with an error during execution (error_during_execution)."
    if result.subtype != "success":
        return f"The agent stopped: {result.subtype}."
    return None


# --- for people --------------------------------------------------------------------------------------


def one_line(text: str, width: int = LINE_WIDTH) -> str:
    """The first non-empty line of `text`, cut to `width` characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > width:
        return first[: width - 1] + "…"
    return first + (" …" if len(lines) > 1 and len(first) < width - 2 else "")


def _path(value: Any, cwd: str | None) -> str:
    if not isinstance(value, str):
        return ""
    if cwd and value.startswith(cwd.rstrip("/") + "/"):
        return value[len(cwd.rstrip("/")) + 1 :]
    return value


_ONE_LINERS: dict[str, tuple[str, ...]] = {
    # tool: (how its call reads, the input fields shown in it: "a|b" is a, else b); paths are made
    # relative to the working directory
    "Bash": ("Bash: {}", "command|description"),
    "Edit": ("Edit {}", "file_path"),
    "MultiEdit": ("MultiEdit {}", "file_path"),
    "Write": ("Write {}", "file_path"),
    "Read": ("Read {}", "file_path"),
    "NotebookEdit": ("NotebookEdit {}", "notebook_path"),
    "NotebookRead": ("NotebookRead {}", "notebook_path"),
    "Grep": ('Grep "{}" in {}', "pattern", "path"),
    "Glob": ('Glob "{}" in {}', "pattern", "path"),
    "LS": ("LS {}", "path"),
    "WebFetch": ("WebFetch {}", "url"),
    "WebSearch": ('WebSearch "{}"', "query"),
    "Task": ("Task: {}", "description"),
}
_PATH_FIELDS = frozenset({"file_path", "notebook_path", "path"})


def _field(given: Mapping[str, Any], names: list[str], cwd: str | None) -> str:
    for name in names:
        value = given.get(name)
        if isinstance(value, str) and value.strip():
            return _path(value, cwd) if name in _PATH_FIELDS else value
    return ""


def describe_tool(call: ToolUse, cwd: str | None = None) -> str:
    """A tool call as one line: "Edit src/orders.py", "Bash: cargo test", 'Grep "TODO" in src'."""
    name, given = call.name, call.input
    if name in _ONE_LINERS:
        template, *fields = _ONE_LINERS[name]
        values = [_field(given, choices.split("|"), cwd) for choices in fields]
        line = template.format(*values).removesuffix(" in ")
    elif name == "TodoWrite":
        todos = todos_of(given)
        line = f"TodoWrite: {sum(t.status == 'completed' for t in todos)}/{len(todos)} done"
    elif name.startswith("mcp__") and name.count("__") >= 2:
        _, server, tool = name.split("__", 2)
        line = f"MCP {server}: {tool}"
    else:
        line = name
    return one_line(clean(line.strip(), LINE_WIDTH * 4).replace("\n", " ")) or name
