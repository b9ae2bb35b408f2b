"""status.progress: what the log follower writes (from the real transcripts, valid for the CRD), when it
writes it (an injected clock), how it reads the log's timestamps and skips lines already read, and
which Pods it follows."""

from __future__ import annotations

from collections import deque
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.activity import activity_lines
from bot.core.crds import openapi_schema
from bot.core.progress import (
    STATUS_INTERVAL,
    TAIL_CHARACTERS,
    TAIL_LINES,
    AgentPod,
    Cursor,
    agent_pod,
    bounded_tail,
    is_new,
    progress_status,
    since_time,
    split_timestamp,
    timestamp_ns,
    write_delay,
)
from bot.core.redact import REDACTED, Secrets
from bot.core.resources import RunProgress
from bot.core.transcript import AgentProgress, fold, parse_line
from bot.sandbox.agent import RECORDINGS

FIXTURES = RECORDINGS
SCHEMA = openapi_schema(RunProgress)
NOW = "2025-07-01T12:00:10Z"


def status_after(name: str, lines: int | None = None, ended: bool = True) -> dict[str, Any]:
    progress, tail = AgentProgress(), deque[str](maxlen=TAIL_LINES)
    for line in (FIXTURES / f"claude-1.0.56-{name}.jsonl").read_text().splitlines()[:lines]:
        event = parse_line(line)
        tail.extend(activity_lines(event, progress))
        progress = fold(progress, event)
    return progress_status(progress, list(tail), ended=ended, updated_at=NOW)


def test_a_finished_successful_run() -> None:
    status = status_after("success")
    assert {k: v for k, v in status.items() if k not in ("tail", "todos")} == {
        "todosDone": 3,
        "todosTotal": 3,
        "turns": 15,
        "lines": 17,
        "ended": True,
        "updatedAt": NOW,
        "lastActivity": "Finished",
        "costUsd": 0.10135775,
        "inputTokens": 91,
        "outputTokens": 511,
        "result": {"outcome": "success", "subtype": "success", "numTurns": 15, "durationMs": 2354},
    }
    assert status["todos"][0] == {"content": "Read src/orders.py", "status": "completed"}
    assert status["tail"][-1] == "✅ finished (15 turns, 2.4 s, $0.10)"


@pytest.mark.parametrize(
    ("name", "lines", "ended", "result"),
    [
        ("success", 10, False, None),
        (
            "success",
            10,
            True,
            {
                "outcome": "failure",
                "error": "The agent stopped without a result line (it crashed, ran out of memory or hit its deadline).",
            },
        ),
        (
            "max-turns",
            None,
            True,
            {
                "outcome": "failure",
                "subtype": "error_max_turns",
                "numTurns": 2,
                "durationMs": 867,
                "error": "The agent stopped at its turn limit (error_max_turns).",
            },
        ),
        (
            "error",
            None,
            True,
            {
                "outcome": "failure",
                "subtype": "success",
                "numTurns": 6,
                "durationMs": 1394,
                "error": 'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}',
            },
        ),
    ],
    ids=["running", "ended without a result", "max turns", "API error"],
)
def test_the_result_part(name: str, lines: int | None, ended: bool, result: dict[str, Any] | None) -> None:
    status = status_after(name, lines, ended)
    assert status.get("result") == result
    assert ("costUsd" in status) == (lines is None)


@pytest.mark.parametrize("name", ["success", "error", "error529", "max-turns", "error-during-execution"])
@pytest.mark.parametrize("ended", [False, True])
def test_every_state_of_a_real_transcript_fits_the_crd(name: str, ended: bool) -> None:
    total = len((FIXTURES / f"claude-1.0.56-{name}.jsonl").read_text().splitlines())
    for lines in range(total + 1):
        jsonschema.validate(status_after(name, lines, ended), SCHEMA)


@settings(max_examples=100)
@given(st.lists(st.text(max_size=400), max_size=20), st.booleans())
def test_any_transcript_gives_a_status_the_crd_accepts(lines: list[str], ended: bool) -> None:
    progress = AgentProgress()
    tail: list[str] = []
    for line in lines:
        event = parse_line(line)
        tail.extend(activity_lines(event, progress))
        progress = fold(progress, event)
    jsonschema.validate(progress_status(progress, tail, ended=ended, updated_at=NOW), SCHEMA)


def test_redaction_may_not_push_a_text_past_its_limit() -> None:
    todo = '{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t","name":"TodoWrite","input":{"todos":[{"content":"%s","status":"pending"}]}}]}}'
    progress = fold(AgentProgress(), parse_line(todo % ("x" * 290 + "authorization: abcdef")))
    status = progress_status(progress, [], ended=False, updated_at=NOW, secrets=Secrets.of(["x" * 12]))
    assert status["todos"][0]["content"].startswith(REDACTED) and len(status["todos"][0]["content"]) <= 300
    jsonschema.validate(status, SCHEMA)


def test_the_tail_keeps_the_last_lines_within_its_size() -> None:
    assert bounded_tail([f"line {n}" for n in range(150)]) == [f"line {n}" for n in range(50, 150)]
    long = ["x" * 1000] * 40
    assert len(bounded_tail(long)) == TAIL_CHARACTERS // 1001


WRITTEN = {"turns": 1, "lines": 4, "ended": False, "updatedAt": "a"}


@pytest.mark.parametrize(
    ("written", "current", "last_write_at", "now", "delay"),
    [
        (None, WRITTEN, None, 100.0, 0.0),
        (WRITTEN, {**WRITTEN, "updatedAt": "b"}, 95.0, 100.0, None),
        (WRITTEN, {**WRITTEN, "lines": 5}, 95.0, 100.0, STATUS_INTERVAL - 5),
        (WRITTEN, {**WRITTEN, "lines": 5}, 80.0, 100.0, 0.0),
        (WRITTEN, {**WRITTEN, "lines": 5, "result": {"outcome": "success"}}, 99.0, 100.0, 0.0),
        (WRITTEN, {**WRITTEN, "ended": True}, 99.0, 100.0, 0.0),
        (WRITTEN, {**WRITTEN, "lines": 5}, None, 100.0, 0.0),
    ],
    ids=[
        "first write",
        "only the time changed",
        "too soon",
        "due",
        "the result",
        "the end",
        "after a restart",
    ],
)
def test_when_progress_is_written(
    written: dict[str, Any] | None,
    current: dict[str, Any],
    last_write_at: float | None,
    now: float,
    delay: float | None,
) -> None:
    assert write_delay(written, current, last_write_at, now) == delay


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ('2025-07-01T12:00:05.123456789Z {"a":1}', (1751371205123456789, '{"a":1}')),
        ("2025-07-01T12:00:05.12Z x y", (1751371205120000000, "x y")),
        ("2025-07-01T12:00:05Z ", (1751371205000000000, "")),
        ("no timestamp here", (None, "no timestamp here")),
        ("2025-13-01T12:00:05Z x", (None, "2025-13-01T12:00:05Z x")),
        ("2025-07-01T12:00:05.1234567890Z x", (None, "2025-07-01T12:00:05.1234567890Z x")),
        ("plain", (None, "plain")),
    ],
    ids=[
        "nanoseconds",
        "trimmed zeros",
        "whole second, empty line",
        "none",
        "bad date",
        "ten digits",
        "one word",
    ],
)
def test_the_kubelets_timestamp_prefix(line: str, parsed: tuple[int | None, str]) -> None:
    assert split_timestamp(line) == parsed


def test_since_time_is_the_whole_second() -> None:
    stamp = timestamp_ns("2025-07-01T12:00:05.9Z")
    assert stamp is not None and since_time(stamp) == "2025-07-01T12:00:05Z"


def test_a_resumed_stream_skips_exactly_what_was_read() -> None:
    """The stream is opened again from the whole second: lines before the cursor are skipped, lines
    sharing its timestamp are told apart by their order."""
    first = [(10, "a"), (20, "b"), (20, "c")]
    cursor: Cursor | None = None
    for stamp, _ in first:
        cursor = Cursor(stamp, 1 if cursor is None or cursor.stamp_ns != stamp else cursor.count + 1)
    assert cursor == Cursor(20, 2)
    again = [(10, "a"), (20, "b"), (20, "c"), (20, "d"), (30, "e")]
    taken, index, previous = [], 0, None
    for stamp, text in again:
        index = index + 1 if stamp == previous else 0
        previous = stamp
        if is_new(cursor, stamp, index):
            taken.append(text)
    assert taken == ["d", "e"]
    assert is_new(None, 5, 0) and is_new(cursor, None, 0)


def pod(
    labels: dict[str, str], state: dict[str, Any] | None = None, container: str = "claude"
) -> dict[str, Any]:
    statuses = [{"name": container, "state": state}] if state is not None else []
    return {
        "metadata": {"name": "run-1-abcde", "uid": "u1", "labels": labels},
        "status": {"containerStatuses": statuses},
    }


CODE = {"orchestrator.platform/run": "code-5-trader-1", "task-type": "code"}


@pytest.mark.parametrize(
    ("given", "found"),
    [
        (pod(CODE, {"running": {}}), AgentPod("CodeRun", "code-5-trader-1", "run-1-abcde", "u1", "running")),
        (
            pod({**CODE, "task-type": "docs"}, {"terminated": {"exitCode": 0}}),
            AgentPod("DocsRun", "code-5-trader-1", "run-1-abcde", "u1", "terminated"),
        ),
        (
            pod(CODE, {"waiting": {"reason": "ContainerCreating"}}),
            AgentPod("CodeRun", "code-5-trader-1", "run-1-abcde", "u1", "waiting"),
        ),
        (pod(CODE), AgentPod("CodeRun", "code-5-trader-1", "run-1-abcde", "u1", "absent")),
        (
            pod(CODE, {"running": {}}, container="sidecar"),
            AgentPod("CodeRun", "code-5-trader-1", "run-1-abcde", "u1", "absent"),
        ),
        (
            pod({"batch.kubernetes.io/job-name": "docs-1", "task-type": "docs"}, {}),
            AgentPod("DocsRun", "docs-1", "run-1-abcde", "u1", "waiting"),
        ),
        (pod({"task-type": "code"}, {"running": {}}), None),
        (pod({"orchestrator.platform/run": "x"}, {"running": {}}), None),
        ({"metadata": {"labels": CODE}}, None),
    ],
    ids=[
        "running",
        "terminated docs",
        "waiting",
        "no status yet",
        "other container",
        "job-name label",
        "no run",
        "no kind",
        "no name",
    ],
)
def test_which_pods_are_followed(given: dict[str, Any], found: AgentPod | None) -> None:
    assert agent_pod(given) == found
