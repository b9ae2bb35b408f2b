"""What the simulated agent prints: transcripts of the real `claude` CLI (1.0.56) replayed at their
recorded pace (sped up or slowed down), framed by the lines its Job script echoes, and a synthetic
flood for load tests.

The recordings are bot/sandbox/recordings/claude-code-1.0.56/*.jsonl (package data, so the demo
works from an installed wheel) with their arrival times (*.times); they
hold planted fake credentials, which is what the redaction tests need.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

Transcript = tuple[tuple[float, str], ...]
"""(seconds after the container started, the line it prints)"""

RECORDINGS = Path(str(resources.files(__package__) / "recordings" / "claude-code-1.0.56"))
NAMES = ("success", "error", "error529", "max-turns", "error-during-execution")


def recorded(name: str, speed: float = 1.0) -> Transcript:
    """The transcript `name` (one of NAMES) at `speed` times its recorded pace."""
    if name not in NAMES:
        raise ValueError(f"no recorded transcript {name!r}; there are {', '.join(NAMES)}")
    if speed <= 0:
        raise ValueError("speed must be positive")
    path = RECORDINGS / f"claude-1.0.56-{name}.jsonl"
    lines = path.read_text().splitlines()
    times = [float(value) for value in path.with_suffix(".jsonl.times").read_text().split()]
    if len(times) != len(lines):
        raise ValueError(f"{path.name}: {len(lines)} lines but {len(times)} arrival times")
    return tuple((at / speed, line) for at, line in zip(times, lines, strict=True))


def framed(transcript: Transcript, branch: str | None = None, pause: float = 0.05) -> Transcript:
    """`transcript` between the plain lines the Job script prints before and after the agent."""
    before = (
        (0.0, "+ configuring SSH and git"),
        (pause / 2, "+ cloning the repository"),
    )
    shift = pause
    body = tuple((at + shift, line) for at, line in transcript)
    end = (body[-1][0] if body else shift) + pause
    after: Transcript = ((end, f"+ pushed {branch}"),) if branch else ((end, "+ the agent stopped"),)
    return before + body + after


def flood(lines_per_second: float, seconds: float, todos: int = 20) -> Transcript:
    """A busy agent: tool calls and their results at `lines_per_second` for `seconds`, the todo list
    moving on every 100 lines, and a result line at the end."""
    count = int(lines_per_second * seconds)
    step = 1.0 / lines_per_second
    lines: list[tuple[float, str]] = [
        (
            0.0,
            json.dumps(
                {"type": "system", "subtype": "init", "session_id": "flood", "model": "m", "cwd": "/w"}
            ),
        )
    ]
    for n in range(1, count):
        at = n * step
        if n % 100 == 1:
            done = min(todos, n // 100)
            items = [
                {
                    "id": str(i),
                    "content": f"Step {i}",
                    "priority": "medium",
                    "status": "completed" if i < done else "in_progress" if i == done else "pending",
                }
                for i in range(todos)
            ]
            block = {"type": "tool_use", "id": f"t{n}", "name": "TodoWrite", "input": {"todos": items}}
            lines.append((at, _assistant(n, block)))
        elif n % 2:
            block = {
                "type": "tool_use",
                "id": f"t{n}",
                "name": "Bash",
                "input": {"command": f"make step-{n}"},
            }
            lines.append((at, _assistant(n, block)))
        else:
            result = {"type": "tool_result", "tool_use_id": f"t{n - 1}", "content": f"ok {n}\n" * 3}
            lines.append((at, json.dumps({"type": "user", "message": {"role": "user", "content": [result]}})))
    lines.append(
        (
            count * step,
            json.dumps(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": False,
                    "num_turns": count // 2,
                    "duration_ms": int(seconds * 1000),
                    "total_cost_usd": 1.25,
                    "result": "done",
                    "session_id": "flood",
                }
            ),
        )
    )
    return tuple(lines)


def working(minutes: float, todos: int = 8, seed: int = 14) -> Transcript:
    """An agent at a realistic pace for `minutes`: a tool call every 5-20 s (Read, Grep, Edit, Bash),
    its result a few seconds later, now and then a sentence, the todo list moving on evenly over the
    run, and a result line with its cost at the end. The same `seed` gives the same transcript."""
    rng = random.Random(seed)
    end = minutes * 60.0
    lines: list[tuple[float, str]] = [
        (
            0.0,
            json.dumps(
                {"type": "system", "subtype": "init", "session_id": "work", "model": "m", "cwd": "/w"}
            ),
        )
    ]
    calls: tuple[tuple[str, Callable[[int], dict[str, object]]], ...] = (
        ("Read", lambda n: {"file_path": f"/w/src/module_{n % 17}.py"}),
        ("Grep", lambda n: {"pattern": f"def handler_{n % 11}", "path": "/w/src"}),
        ("Edit", lambda n: {"file_path": f"/w/src/module_{n % 17}.py", "old_string": "a", "new_string": "b"}),
        ("Bash", lambda n: {"command": "cargo test" if n % 3 else "cargo build"}),
    )
    at, n, done = 1.0, 0, -1
    while at < end:
        step = min(todos - 1, int(at / end * todos))
        if step != done:
            done = step
            items = [
                {
                    "id": str(i),
                    "content": f"Step {i + 1} of the task",
                    "priority": "medium",
                    "status": "completed" if i < step else "in_progress" if i == step else "pending",
                }
                for i in range(todos)
            ]
            tool = {"type": "tool_use", "id": f"todo{n}", "name": "TodoWrite", "input": {"todos": items}}
            lines.append((at, _assistant(n, tool)))
            at += 1.0
        if rng.random() < 0.3:
            text = {"type": "text", "text": f"Looking at the next part ({n})."}
            lines.append((at, _assistant(n, text)))
        name, given = calls[rng.randrange(len(calls))]
        lines.append(
            (at + 0.5, _assistant(n, {"type": "tool_use", "id": f"t{n}", "name": name, "input": given(n)}))
        )
        output = "\n".join(f"output line {k}" for k in range(rng.randrange(1, 40)))
        result = {"type": "tool_result", "tool_use_id": f"t{n}", "content": output}
        lines.append(
            (
                at + rng.uniform(1, 4),
                json.dumps({"type": "user", "message": {"role": "user", "content": [result]}}),
            )
        )
        at += rng.uniform(5, 20)
        n += 1
    result_line = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 2 * n,
        "duration_ms": int(end * 1000),
        "total_cost_usd": round(0.02 * n, 4),
        "result": "done",
        "session_id": "work",
    }
    lines.append((end, json.dumps(result_line)))
    return tuple(sorted(lines, key=lambda item: item[0]))


def _assistant(n: int, block: Mapping[str, object]) -> str:
    return json.dumps(
        {"type": "assistant", "message": {"id": f"msg_{n}", "role": "assistant", "content": [block]}}
    )
