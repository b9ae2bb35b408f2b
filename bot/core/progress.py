"""A run's `status.progress`: what the controller's log follower (bot/logfollow.py) writes from the
agent's transcript, and when. Pure.

- `progress_status`: AgentProgress + the activity log's last lines -> the `status.progress` object
  (counts, the todo list, turns, cost, the last activity, the result, the log's tail), redacted and
  bounded in size;
- `write_delay`: a run's progress is written at most every `STATUS_INTERVAL` seconds and only when it
  changed (`updatedAt` aside); the result and the end of the log are written at once;
- the log's lines: the kubelet's timestamp prefix, and the `Cursor` that skips lines already read when
  a stream is opened again from `sinceTime` (a second's precision: the overlap is skipped);
- `agent_pod`: which run a Pod belongs to and whether its agent container has output to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bot.core.jobs import CONTAINER_NAME
from bot.core.redact import NO_SECRETS, Secrets, redact_value
from bot.core.resources import RunKind
from bot.core.runs import LABEL_PREFIX
from bot.core.transcript import AgentProgress, failure_reason, outcome

STATUS_INTERVAL = 10.0
TAIL_LINES = 100
TAIL_CHARACTERS = 16_000
MAX_STATUS_TODOS = 50
RUN_LABEL = LABEL_PREFIX + "run"
_KINDS: dict[str, RunKind] = {"code": "CodeRun", "docs": "DocsRun"}


def progress_status(
    progress: AgentProgress,
    tail: Sequence[str],
    *,
    ended: bool,
    updated_at: str,
    secrets: Secrets = NO_SECRETS,
) -> dict[str, Any]:
    """The `status.progress` object (camelCase, as the CRD has it) for what the transcript said so far.
    `ended`: the agent's container has stopped (or its Pod is gone), so no result line means failure."""
    status: dict[str, Any] = {
        "todosDone": progress.todos_done,
        "todosTotal": len(progress.todos),
        "todos": [{"content": t.content, "status": t.status} for t in progress.todos[:MAX_STATUS_TODOS]],
        "turns": progress.shown_turns,
        "lines": progress.lines,
        "ended": ended,
        "tail": bounded_tail(tail),
        "updatedAt": updated_at,
    }
    if progress.activity:
        status["lastActivity"] = progress.activity
    result = progress.result
    if result is not None:
        if result.cost_usd is not None:
            status["costUsd"] = result.cost_usd
        if result.usage is not None:
            status["inputTokens"] = result.usage.input_tokens
            status["outputTokens"] = result.usage.output_tokens
    state = outcome(progress, ended)
    if state != "running":
        summary: dict[str, Any] = {"outcome": state}
        if result is not None:
            summary["subtype"] = result.subtype
            if result.num_turns is not None:
                summary["numTurns"] = result.num_turns
            if result.duration_ms is not None:
                summary["durationMs"] = result.duration_ms
        reason = failure_reason(progress, ended)
        if reason:
            summary["error"] = reason
        status["result"] = summary
    cleaned: dict[str, Any] = redact_value(status, secrets)
    # Redaction may lengthen a text a little: the CRD's limits must still hold.
    for todo in cleaned["todos"]:
        todo["content"] = todo["content"][:300]
    if "lastActivity" in cleaned:
        cleaned["lastActivity"] = cleaned["lastActivity"][:500]
    if "error" in cleaned.get("result", {}):
        cleaned["result"]["error"] = cleaned["result"]["error"][:2000]
    return cleaned


def bounded_tail(lines: Sequence[str]) -> list[str]:
    """The last `TAIL_LINES` lines, fewer if they would pass `TAIL_CHARACTERS` together."""
    kept: list[str] = []
    total = 0
    for line in reversed(lines[-TAIL_LINES:]):
        total += len(line) + 1
        if total > TAIL_CHARACTERS:
            break
        kept.append(line)
    return kept[::-1]


def _visible(status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if status is None else {k: v for k, v in status.items() if k != "updatedAt"}


def write_delay(
    written: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    last_write_at: float | None,
    now: float,
    interval: float = STATUS_INTERVAL,
) -> float | None:
    """Seconds until `current` should be written (0: now); None when it says nothing new."""
    if _visible(written) == _visible(current):
        return None
    if last_write_at is None or written is None:
        return 0.0
    if current.get("result") != written.get("result") or current.get("ended") != written.get("ended"):
        return 0.0
    return max(0.0, last_write_at + interval - now)


# --- the log's lines ---------------------------------------------------------------------------------


def split_timestamp(line: str) -> tuple[int | None, str]:
    """`2025-07-01T12:00:05.12Z text` (a line read with `timestamps=true`) -> (nanoseconds, text)."""
    stamp, space, text = line.partition(" ")
    if not space:
        return None, line
    nanoseconds = timestamp_ns(stamp)
    return (nanoseconds, text) if nanoseconds is not None else (None, line)


def timestamp_ns(stamp: str) -> int | None:
    """RFC 3339 with up to nine fractional digits (Go's RFC3339Nano) -> nanoseconds since the epoch."""
    if not stamp.endswith("Z") or "T" not in stamp:
        return None
    whole, _, fraction = stamp[:-1].partition(".")
    if fraction and not (fraction.isdigit() and len(fraction) <= 9):
        return None
    try:
        seconds = int(datetime.fromisoformat(whole + "+00:00").timestamp())
    except ValueError:
        return None
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def since_time(stamp_ns: int) -> str:
    """`sinceTime` for a stream that goes on from `stamp_ns` (whole seconds: the overlap is skipped)."""
    return datetime.fromtimestamp(stamp_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Cursor:
    """How far a log has been read: the last line's timestamp, and how many lines had exactly it."""

    stamp_ns: int
    count: int = 1


def is_new(cursor: Cursor | None, stamp_ns: int | None, index: int) -> bool:
    """Whether a line is past `cursor`. `index` is the number of lines before it in the same stream
    with the same timestamp (lines can share one)."""
    if cursor is None or stamp_ns is None:
        return True
    return (stamp_ns, index) >= (cursor.stamp_ns, cursor.count)


# --- which Pod ---------------------------------------------------------------------------------------

ContainerState = Literal["absent", "waiting", "running", "terminated"]


@dataclass(frozen=True)
class AgentPod:
    kind: RunKind
    run: str
    pod: str
    uid: str
    state: ContainerState


def agent_pod(pod: Mapping[str, Any], container: str = CONTAINER_NAME) -> AgentPod | None:
    """The run a Pod of an agent Job belongs to, and its agent container's state; None for other Pods."""
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    run = labels.get(RUN_LABEL) or labels.get("batch.kubernetes.io/job-name")
    kind = _KINDS.get(labels.get("task-type") or "")
    if not run or kind is None or not metadata.get("name") or not metadata.get("uid"):
        return None
    state: ContainerState = "absent"
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            current = status.get("state") or {}
            state = (
                "running"
                if current.get("running") is not None
                else "terminated"
                if current.get("terminated") is not None
                else "waiting"
            )
    return AgentPod(kind, str(run), str(metadata["name"]), str(metadata["uid"]), state)
