"""What a run's page shows, from the store's rows. Pure: no I/O, no clock (`now` is passed in).

- `header`: kind, task, service, who asked, phase, started, duration, model, turns, cost and the links
  (issue, pull request, check run, the previous and next runs of a retry chain);
- `timeline`: queued (and behind which run), started, finished, from the phase rows;
- `transcript`: the agent's text as Markdown (raw HTML disabled, no images), each tool call as one
  line with its input and result (long results folded), the script's own lines, errors marked.

`transcript(rows)` pairs each tool call with its result (the whole page); `transcript(rows,
pair=False)` leaves each row on its own (the live updates: a result then names the call it belongs to,
which is already on the page). Every text here is attacker-influenced (issue text, tool output): the
templates escape it; the only HTML made here is markdown-it's, from Markdown with HTML disabled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt

from bot.core.activity import cost_text, duration_text, result_line
from bot.core.transcript import (
    Assistant,
    Init,
    PlainText,
    Result,
    TextBlock,
    ToolResult,
    ToolUse,
    User,
    describe_tool,
    todos_of,
)
from bot.store.rows import PhaseChange, RunRecord, StoredEvent, stored_event

FOLD_LINES = 20
FOLD_CHARACTERS = 2_000
ACTIVE_PHASES = (None, "Queued", "Pending", "Running")


def _link_open(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    tokens[index].attrSet("rel", "nofollow noopener noreferrer")
    return str(renderer.renderToken(tokens, index, options, env))


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.disable("image")  # a picture from anywhere would be fetched by every viewer's browser
    parser.add_render_rule("link_open", _link_open)
    return parser


MARKDOWN = _markdown()


def markdown_html(text: str) -> str:
    """Agent text as HTML: CommonMark with raw HTML shown as text, unsafe link targets refused
    (`javascript:`, `vbscript:`, `file:`, `data:`), and images left as text."""
    return str(MARKDOWN.render(text))


def dom_id(tool_use_id: str) -> str:
    """A safe element id for a tool call (its id comes from the transcript)."""
    return "t-" + hashlib.sha256(tool_use_id.encode()).hexdigest()[:16]


# --- the transcript ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    content: str
    is_error: bool
    head: str
    """What is shown at once; the rest (`more_lines` lines) is folded."""
    rest: str = ""
    more_lines: int = 0


def output(content: str, is_error: bool) -> Output:
    lines = content.splitlines()
    if len(lines) <= FOLD_LINES and len(content) <= FOLD_CHARACTERS:
        return Output(content, is_error, content)
    head = "\n".join(lines[:FOLD_LINES])[:FOLD_CHARACTERS]
    rest = content[len(head) :].lstrip("\n")
    return Output(content, is_error, head, rest, max(1, len(rest.splitlines())))


@dataclass(frozen=True)
class Item:
    """One entry of the transcript. `kind`: said, tool, result (a late result, live only), user,
    started, finished, output, phase."""

    id: int
    kind: str
    line: str = ""
    html: str = ""
    text: str = ""
    error: bool = False
    tool: str = ""
    """The tool call's element id (tool and result items)."""
    input: str = ""
    result: Output | None = None
    lines: tuple[str, ...] = ()


@dataclass
class _Cursor:
    cwd: str | None = None
    tools: dict[str, int] = field(default_factory=dict)


def transcript(rows: Sequence[StoredEvent], *, pair: bool = True, cwd: str | None = None) -> list[Item]:
    items: list[Item] = []
    cursor = _Cursor(cwd)
    for row in rows:
        event = stored_event(row.kind, row.data)
        if isinstance(event, PhaseChange):
            items.append(Item(row.id, "phase", line=event.phase, text=event.message or ""))
        elif isinstance(event, Init):
            cursor.cwd = event.cwd or cursor.cwd
            line = f"{event.model or 'The agent'} started in {event.cwd or '?'}"
            items.append(Item(row.id, "started", line=line, text=event.session_id or ""))
        elif isinstance(event, Assistant):
            items += _assistant(row.id, event, cursor)
        elif isinstance(event, User):
            items += _user(row.id, event, cursor, items, pair)
        elif isinstance(event, Result):
            html = markdown_html(event.text) if event.text else ""
            items.append(Item(row.id, "finished", line=result_line(event), html=html, error=event.failed))
        elif isinstance(event, PlainText):
            if items and items[-1].kind == "output" and pair:
                last = items[-1]
                items[-1] = Item(last.id, "output", lines=(*last.lines, event.text))
            else:
                items.append(Item(row.id, "output", lines=(event.text,)))
    return items


def _assistant(row_id: int, event: Assistant, cursor: _Cursor) -> list[Item]:
    items = []
    for block in event.blocks:
        if isinstance(block, TextBlock) and block.text.strip():
            items.append(Item(row_id, "said", html=markdown_html(block.text), error=event.synthetic))
        elif isinstance(block, ToolUse):
            shown = json.dumps(dict(block.input), indent=2, ensure_ascii=False, default=str)
            items.append(
                Item(
                    row_id, "tool", line=describe_tool(block, cursor.cwd), tool=dom_id(block.id), input=shown
                )
            )
    return items


def _user(row_id: int, event: User, cursor: _Cursor, items: list[Item], pair: bool) -> list[Item]:
    found = []
    for block in event.blocks:
        if isinstance(block, TextBlock) and block.text.strip():
            found.append(Item(row_id, "user", text=block.text))
        elif isinstance(block, ToolResult):
            result = output(block.content, block.is_error)
            tool = dom_id(block.tool_use_id)
            at = (
                next((i for i in range(len(items) - 1, -1, -1) if items[i].tool == tool), None)
                if pair
                else None
            )
            if at is not None and items[at].kind == "tool":
                call = items[at]
                items[at] = Item(call.id, "tool", line=call.line, tool=tool, input=call.input, result=result,
                                 error=block.is_error)  # fmt: skip
            else:
                found.append(Item(row_id, "result", tool=tool, result=result, error=block.is_error))
    return found


# --- the header and the timeline ---------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class Todo:
    content: str
    status: str


@dataclass(frozen=True)
class Header:
    title: str
    kind: str
    phase: str
    active: bool
    facts: tuple[tuple[str, str], ...]
    links: tuple[Link, ...]
    todos: tuple[Todo, ...]
    message: str | None


def title(run: RunRecord) -> str:
    header = run.header
    if run.kind == "CodeRun":
        return f"code task-{header.get('taskId', '?')} ({header.get('service', '?')})"
    return "docs"


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def header(run: RunRecord, now: float, *, retries: Sequence[str] = (), web_url: str | None = None) -> Header:
    values = run.header
    progress: Mapping[str, Any] = values.get("progress") or {}
    end = run.finished_at if run.finished_at is not None else now
    duration = duration_text(int((end - run.created_at) * 1000)) if run.created_at is not None else "-"
    cost = progress.get("costUsd")
    facts: list[tuple[str, str]] = [("Kind", run.kind)]
    if run.kind == "CodeRun":
        facts += [("Task", str(values.get("taskId", "-"))), ("Service", str(values.get("service", "-")))]
    facts += [
        ("Asked by", run.user),
        ("Phase", run.phase or "Queued"),
        ("Started", _when(run.created_at)),
        ("Duration", duration),
        ("Model", str(values.get("model", "-"))),
        ("Turns", str(progress.get("turns", 0))),
        ("Cost", cost_text(float(cost)) if isinstance(cost, int | float) else "-"),
    ]
    todos = tuple(
        Todo(str(t.get("content", "")), str(t.get("status", "pending")))
        for t in progress.get("todos") or []
        if isinstance(t, Mapping)
    )
    return Header(
        title=title(run),
        kind=run.kind,
        phase=run.phase or "Queued",
        active=run.phase in ACTIVE_PHASES,
        facts=tuple(facts),
        links=tuple(links(run, retries, web_url)),
        todos=todos,
        message=values.get("message") if isinstance(values.get("message"), str) else None,
    )


def links(run: RunRecord, retries: Sequence[str], web_url: str | None) -> list[Link]:
    repository_url = run.header.get("repositoryUrl") or (f"{web_url}/{run.repository}" if web_url else None)
    found: list[Link] = []
    if repository_url and run.issue_number:
        found.append(
            Link(f"{run.repository}#{run.issue_number}", f"{repository_url}/issues/{run.issue_number}")
        )
    pull = run.header.get("pullRequestUrl")
    if isinstance(pull, str) and pull.startswith(("https://", "http://")):
        found.append(Link("Pull request", pull))
    check = run.header.get("checkRunId")
    if repository_url and isinstance(check, str) and check.isdigit():
        found.append(Link("Check run", f"{repository_url}/runs/{check}"))
    if run.retry_of:
        found.append(Link(f"Previous run {run.retry_of}", f"/runs/{run.namespace}/{run.retry_of}"))
    for name in retries:
        found.append(Link(f"Next run {name}", f"/runs/{run.namespace}/{name}"))
    return found


@dataclass(frozen=True)
class Moment:
    at: str
    what: str
    detail: str = ""


_PHASE_WORDS = {
    "Queued": "queued",
    "Pending": "starting",
    "Running": "running",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Cancelled": "cancelled",
}


def timeline(run: RunRecord, rows: Sequence[StoredEvent]) -> list[Moment]:
    moments = [Moment(_when(run.created_at), "created", run.header.get("command", "") or "")]
    if run.retry_of:
        moments[0] = Moment(moments[0].at, f"created as a retry of {run.retry_of}", moments[0].detail)
    for row in rows:
        if row.kind == "phase":
            change = stored_event(row.kind, row.data)
            assert isinstance(change, PhaseChange)
            moments.append(
                Moment(_when(row.at), _PHASE_WORDS.get(change.phase, change.phase), change.message or "")
            )
    return moments


def todo_list(rows: Sequence[StoredEvent]) -> tuple[Todo, ...]:
    """The last TodoWrite of the transcript (when the run's header has none yet)."""
    for row in reversed(rows):
        if row.kind != "assistant":
            continue
        event = stored_event(row.kind, row.data)
        assert isinstance(event, Assistant)
        for block in reversed(event.blocks):
            if isinstance(block, ToolUse) and block.name == "TodoWrite":
                return tuple(Todo(t.content, t.status) for t in todos_of(block.input))
    return ()
