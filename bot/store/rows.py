"""Rows <-> events: how a run and its transcript are kept in the store. Pure, and shared by both
backends (bot/store/sqlite.py, bot/store/postgres.py), so that they store exactly the same thing.

- `run_record`: a run's manifest -> the row the run page's header and the run list read;
- `event_record`: one parsed, redacted transcript event (bot/core/transcript.py) -> one row, keyed by
  the Pod it came from and its line number there, so reading a log again stores nothing twice;
- `phase_record`: a run's phase change -> one timeline row, keyed by the phase;
- `stored_event`: a row read back -> the same event (or `PhaseChange`).

Texts are already redacted and cleaned when they arrive (the log follower redacts each line before it
parses it); a tool call's input is bounded here, so one row stays small whatever the agent sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.feedback import run_view
from bot.core.origin import ANNOTATION_PREFIX
from bot.core.redact import NO_SECRETS, Secrets, redact_value
from bot.core.resources import FINISHED_PHASES
from bot.core.transcript import (
    Assistant,
    Block,
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
)

PHASE_STREAM = "phase"
PHASE_ORDER = ("Queued", "Pending", "Running", "Succeeded", "Failed", "Cancelled")
MAX_INPUT_STRING = 20_000
"""A string inside a tool call's input (a file written whole) is cut to this many characters."""
MAX_INPUT_ITEMS = 200
MAX_INPUT_DEPTH = 8
HEADER_PROGRESS_KEYS = (
    "todos",
    "todosDone",
    "todosTotal",
    "turns",
    "costUsd",
    "inputTokens",
    "outputTokens",
    "lastActivity",
    "result",
    "ended",
)


@dataclass(frozen=True)
class RunRecord:
    """One run as the store keeps it: what the list filters on, and the page's header."""

    namespace: str
    name: str
    kind: str
    repository: str
    user: str
    phase: str | None
    created_at: float | None
    updated_at: float
    finished_at: float | None = None
    issue_number: int | None = None
    retry_of: str | None = None
    """The run before this one in its chain: the run it retries, or the run it continues."""
    header: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRecord:
    """One row of a run's timeline: a transcript line (stream = the Pod's uid, seq = its line number)
    or a phase change (stream = "phase", seq = the phase's place in `PHASE_ORDER`)."""

    namespace: str
    name: str
    stream: str
    seq: int
    at: float | None
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """A row read back, with the store's id (increasing in the order rows were written)."""

    id: int
    stream: str
    seq: int
    at: float | None
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class PhaseChange:
    phase: str
    message: str | None = None


# --- runs --------------------------------------------------------------------------------------------


def timestamp(value: Any) -> float | None:
    """`2025-07-01T12:00:05Z` (Kubernetes' format) -> seconds since the epoch; None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_record(run: Mapping[str, Any], now: float, secrets: Secrets = NO_SECRETS) -> RunRecord:
    """The row of a run, from its manifest as the controller's watch delivers it."""
    view = run_view(dict(run))
    annotations = (run.get("metadata") or {}).get("annotations") or {}
    progress = view.progress or {}
    header: dict[str, Any] = {
        "model": view.model,
        "command": view.command,
        "message": view.message,
        "branch": view.branch,
        "pullRequestUrl": view.pull_request_url,
        "taskId": view.task_id,
        "service": view.service,
        "contextVersion": view.context_version,
        "checkRunId": annotations.get(ANNOTATION_PREFIX + "check-run-id"),
        "repositoryUrl": annotations.get(ANNOTATION_PREFIX + "repository-html-url"),
        "lastUpdate": view.last_update,
        "progress": {key: progress[key] for key in HEADER_PROGRESS_KEYS if key in progress},
    }
    header = {key: value for key, value in header.items() if value not in (None, {}, "")}
    finished = None
    if view.phase in FINISHED_PHASES:
        finished = timestamp(view.last_update) or now
    return RunRecord(
        namespace=view.namespace,
        name=view.name,
        kind=view.kind,
        repository=view.repository,
        user=view.user,
        phase=view.phase,
        created_at=timestamp(view.created),
        updated_at=now,
        finished_at=finished,
        issue_number=view.issue_number or None,
        retry_of=view.retry_of or view.continues,
        header=redact_value(header, secrets),
    )


def phase_record(run: Mapping[str, Any], now: float, secrets: Secrets = NO_SECRETS) -> EventRecord | None:
    """The timeline row for the phase the run is in now; None before it has one."""
    metadata = run.get("metadata") or {}
    status = run.get("status") or {}
    phase = status.get("phase")
    if phase not in PHASE_ORDER:
        return None
    data: dict[str, Any] = {"phase": phase}
    if isinstance(status.get("message"), str) and status["message"]:
        data["message"] = redact_value(status["message"], secrets)
    return EventRecord(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        stream=PHASE_STREAM,
        seq=PHASE_ORDER.index(phase) + 1,
        at=timestamp(status.get("lastUpdate")) or now,
        kind="phase",
        data=data,
    )


# --- transcript events -------------------------------------------------------------------------------


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON-like value with long strings cut and long lists and deep nesting left out."""
    if isinstance(value, str):
        return value if len(value) <= MAX_INPUT_STRING else value[: MAX_INPUT_STRING - 1] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_INPUT_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_INPUT_ITEMS]
        return {str(key): bounded(item, depth + 1) for key, item in items}
    if isinstance(value, list | tuple):
        return [bounded(item, depth + 1) for item in value[:MAX_INPUT_ITEMS]]
    return str(value)[:200]


def _block_data(block: Block) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUse):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": bounded(block.input)}
    return {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
        "is_error": block.is_error,
    }


def event_data(event: Event) -> tuple[str, dict[str, Any]]:
    """(kind, data) of one transcript event."""
    if isinstance(event, Init):
        return "init", {
            "session_id": event.session_id,
            "model": event.model,
            "cwd": event.cwd,
            "tools": list(event.tools),
            "permission_mode": event.permission_mode,
        }
    if isinstance(event, Assistant):
        blocks = [_block_data(block) for block in event.blocks]
        return "assistant", {"message_id": event.message_id, "model": event.model, "blocks": blocks}
    if isinstance(event, User):
        return "user", {"blocks": [_block_data(block) for block in event.blocks]}
    if isinstance(event, Result):
        usage = None if event.usage is None else vars(event.usage).copy()
        return "result", {
            "subtype": event.subtype,
            "is_error": event.is_error,
            "text": event.text,
            "num_turns": event.num_turns,
            "duration_ms": event.duration_ms,
            "cost_usd": event.cost_usd,
            "usage": usage,
            "session_id": event.session_id,
        }
    if isinstance(event, PlainText):
        return "text", {"text": event.text}
    return "other", {"type": event.type}


def event_record(
    namespace: str, name: str, stream: str, seq: int, at: float | None, event: Event
) -> EventRecord:
    kind, data = event_data(event)
    return EventRecord(namespace, name, stream, seq, at, kind, data)


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _block(data: Any) -> Block | None:
    if not isinstance(data, Mapping):
        return None
    kind = data.get("type")
    if kind == "text":
        return TextBlock(_str(data, "text") or "")
    if kind == "tool_use":
        tool_input = data.get("input")
        return ToolUse(
            _str(data, "id") or "",
            _str(data, "name") or "?",
            tool_input if isinstance(tool_input, Mapping) else {},
        )
    if kind == "tool_result":
        return ToolResult(
            _str(data, "tool_use_id") or "", _str(data, "content") or "", data.get("is_error") is True
        )
    return None


def _blocks(data: Mapping[str, Any]) -> tuple[Block, ...]:
    items = data.get("blocks")
    found = [_block(item) for item in items] if isinstance(items, list) else []
    return tuple(block for block in found if block is not None)


def stored_event(kind: str, data: Mapping[str, Any]) -> Event | PhaseChange:
    """A stored row's event again; a row of a kind this code does not know reads as `Other`."""
    if kind == "phase":
        return PhaseChange(_str(data, "phase") or "?", _str(data, "message"))
    if kind == "init":
        tools = data.get("tools")
        return Init(
            _str(data, "session_id"),
            _str(data, "model"),
            _str(data, "cwd"),
            tuple(t for t in tools if isinstance(t, str)) if isinstance(tools, list) else (),
            _str(data, "permission_mode"),
        )
    if kind == "assistant":
        return Assistant(_str(data, "message_id"), _str(data, "model"), _blocks(data))
    if kind == "user":
        return User(_blocks(data))
    if kind == "result":
        usage = data.get("usage")
        cost = data.get("cost_usd")
        return Result(
            subtype=_str(data, "subtype") or "unknown",
            is_error=data.get("is_error") is True,
            text=_str(data, "text"),
            num_turns=_int(data, "num_turns"),
            duration_ms=_int(data, "duration_ms"),
            cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            usage=Usage(
                **{k: v for k, v in usage.items() if k in Usage.__dataclass_fields__ and isinstance(v, int)}
            )
            if isinstance(usage, Mapping)
            else None,
            session_id=_str(data, "session_id"),
        )
    if kind == "text":
        return PlainText(_str(data, "text") or "")
    return Other(_str(data, "type") or kind)


# --- JSON columns ------------------------------------------------------------------------------------


def dump(value: Mapping[str, Any]) -> str:
    """A JSON column's text (compact; never NaN)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)


def load(text: str | None) -> dict[str, Any]:
    """A JSON column read back; anything but an object reads as empty."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
