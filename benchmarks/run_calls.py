"""GitHub API calls for one long `/code` run whose progress is shown live (issue 14).

The command is made on a pull request, so the run has both a tracking comment and a check run. The
whole product runs in this process (`running_stack` with the production intervals: status.progress
at most every 10 s, a comment edit for progress alone at most every 15 s, the check run every 60 s).
The simulated agent works for `--minutes` (default 30) at a realistic pace (`bot.sandbox.agent.working`:
a tool call every 5-20 s, the todo list moving on evenly, a result line at the end). Counted, by the
local GitHub API: every call from the command to the settled end, by operation; the edits of the
tracking comment and the check run, how far apart progress-only edits were, and the most writes in
any 60 s window (GitHub's secondary limit: 80 content-creating requests a minute, 500 an hour).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections import Counter
from typing import Any

from benchmarks.registry import Benchmark
from benchmarks.report import Target, machine, table, write_result
from bot.sandbox.agent import working
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import Stack, pushed_branch, running_stack

PR = 7
SETTLE_SECONDS = 3.0
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def _agent(minutes: float) -> Any:
    transcript = working(minutes)

    def outcome(job: dict[str, Any]) -> JobOutcome:
        message = json.dumps({"branch": pushed_branch(job), "commit": "c" * 40})
        return JobOutcome(termination_message=message, transcript=transcript)

    return outcome


async def _settled(stack: Stack, name: str, deadline: float) -> None:
    while True:
        bodies = [c.get("body") or "" for c in stack.gh.comments(stack.scene.repo, PR)]
        if any(f"/{name} -->" in b and "/pull/" in b and "**Result:**" in b for b in bodies):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {name} did not finish with its result and PR link in time")
        await asyncio.sleep(0.5)
    count, quiet = len(stack.gh.calls), time.monotonic()
    while time.monotonic() - quiet < SETTLE_SECONDS:
        await asyncio.sleep(0.2)
        if len(stack.gh.calls) != count:
            count, quiet = len(stack.gh.calls), time.monotonic()


async def measure(minutes: float) -> dict[str, Any]:
    async with running_stack(progress_seconds=10.0, comment_edit_seconds=15.0) as stack:
        stack.default_outcome = _agent(minutes)
        start = len(stack.gh.calls)
        began = time.monotonic()
        status, answer = await stack.comment(PR, "alice", "/code 5 --service trader", on_pull_request=True)
        if status != 200:
            raise RuntimeError(f"serve answered {status}: {answer}")
        name = json.loads(answer)["done"][0].split()[-1]
        await _settled(stack, name, began + minutes * 60 + 120)
        calls = stack.gh.calls[start:]
    operations = Counter(f"{c.method} {c.operation_id or c.path}" for c in calls)
    writes = sorted(c.at for c in calls if c.method in WRITES)
    per_minute = max((sum(1 for t in writes if w <= t < w + 60) for w in writes), default=0)
    comment_edits = [c for c in calls if c.operation_id == "issues/update-comment"]
    check_edits = [c for c in calls if c.operation_id == "checks/update"]

    comment_gaps = progress_gaps(
        [(c.at, milestone_of(c.request_json.get("body", ""))) for c in comment_edits]
    )
    check_gaps = progress_gaps([(c.at, check_milestone(c.request_json)) for c in check_edits])
    return {
        "benchmark": "run-calls",
        "machine": machine(),
        "minutes": minutes,
        "wall_seconds": round(time.monotonic() - began, 1),
        "calls": len(calls),
        "writes": len(writes),
        "by_operation": dict(operations.most_common()),
        "comment_edits": len(comment_edits),
        "check_run_edits": len(check_edits),
        "min_gap_between_progress_comment_edits": round(min(comment_gaps), 2) if comment_gaps else None,
        "min_gap_between_progress_check_run_edits": round(min(check_gaps), 2) if check_gaps else None,
        "most_writes_in_60_s": per_minute,
        "edit_times": {
            "comment": [round(c.at - began, 1) for c in comment_edits],
            "check_run": [round(c.at - began, 1) for c in check_edits],
        },
        "writes_per_hour_rate": round(len(writes) / max(minutes, 1e-9) * 60, 1),
        "targets": [
            Target("GitHub writes in any 60 s window", float(per_minute), 80, True).as_dict(),
            Target(
                "seconds between progress-only comment edits (smallest)",
                min(comment_gaps) if comment_gaps else None,
                14.5,
                False,
            ).as_dict(),
        ],
    }


def milestone_of(body: str) -> tuple[str, bool, bool]:
    """What a person must see at once in a tracking comment: its phase, the result, the PR link."""
    first = body.splitlines()[0] if body else ""
    return (
        first.rsplit("**", 2)[-2] if first.count("**") >= 4 else first,
        "**Result:**" in body,
        "/pull/" in body,
    )


def check_milestone(state: dict[str, Any]) -> tuple[Any, ...]:
    summary = (state.get("output") or {}).get("summary", "")
    return (state.get("status"), state.get("conclusion"), "**Result:**" in summary, "/pull/" in summary)


def progress_gaps(edits: list[tuple[float, Any]]) -> list[float]:
    """Seconds between consecutive edits that kept their milestone (shown for progress alone)."""
    return [b[0] - a[0] for a, b in itertools.pairwise(edits) if a[1] == b[1]]


def render(result: dict[str, Any]) -> str:
    rows = [[operation, count] for operation, count in result["by_operation"].items()]
    lines = [
        f"a {result['minutes']:g}-minute run ({result['wall_seconds']} s of wall time): "
        f"{result['calls']} GitHub calls, {result['writes']} of them writes",
        table(["call", "count"], rows),
        f"tracking comment edits: {result['comment_edits']}, check run edits: {result['check_run_edits']}",
        f"smallest gap between progress-only edits: comment {result['min_gap_between_progress_comment_edits']} s, "
        f"check run {result['min_gap_between_progress_check_run_edits']} s",
        f"most writes in any 60 s: {result['most_writes_in_60_s']}; "
        f"writes per hour at this rate: {result['writes_per_hour_rate']}",
    ]
    for target in result["targets"]:
        lines.append(
            Target(target["name"], target["value"], target["limit"], target["comparison"] == "<=").line()
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="how long the agent works (default: %(default)s)"
    )


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(measure(args.minutes))
    path = write_result("run-calls" if args.minutes == 30 else f"run-calls-{args.minutes:g}min", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="run-calls",
    summary="GitHub calls for one 30-minute /code run with its progress shown live (--minutes N)",
    add_arguments=add_arguments,
    run=main,
)
