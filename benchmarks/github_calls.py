"""GitHub API calls per accepted `/code` command, cold and warm, counted by the local GitHub API.

The whole product runs in this process (`running_stack`: local Kubernetes API with the Job simulator,
local GitHub API, serve, controller with the reporter). Each command is a real signed `issue_comment`
delivery; its calls are split at three moments:
- answered: serve has answered the delivery (the run is stored);
- job started: the Job simulator has picked up the run's Job;
- settled: the tracking comment shows the PR link and no call has been made for a while.

"cold" is the first command after start (no installation token, no permission cached); "warm" are
the commands after it, by the same user on the same installation. Each command names its own task,
so every run pushes its own branch and gets its own pull request (the same work each time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.registry import Benchmark
from benchmarks.report import Target, machine, median, table, write_result
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import Stack, agent_pushes_a_branch, running_stack

ISSUE = 5
USER = "alice"
SETTLE_SECONDS = 1.0
"""No GitHub call for this long after the PR link appeared: the command's feedback is complete."""
TIMEOUT_SECONDS = 30.0


@dataclass
class CommandCalls:
    label: str
    run: str
    answered: int
    before_job: int
    total: int
    operations: list[str]
    """`METHOD operationId` of every call, in order, with `|` marking the answer and the Job start."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "run": self.run,
            "before_answer": self.answered,
            "before_job_start": self.before_job,
            "total": self.total,
            "operations": self.operations,
        }


async def one_command(stack: Stack, task: int, label: str, job_seen: dict[str, int]) -> CommandCalls:
    start = len(stack.gh.calls)
    status, answer = await stack.comment(issue=ISSUE, user=USER, body=f"/code {task} --service trader")
    answered = len(stack.gh.calls)
    if status != 200:
        raise RuntimeError(f"serve answered {status}: {answer}")
    done = json.loads(answer)["done"]
    if not done or not done[0].startswith("created"):
        raise RuntimeError(f"the command did not create a run: {answer}")
    run = done[0].split()[-1]
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while run not in job_seen or not _linked(stack, run):
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run}: no Job or no PR link within {TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.02)
    settled = len(stack.gh.calls)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < SETTLE_SECONDS and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if len(stack.gh.calls) != settled:
            settled, quiet_since = len(stack.gh.calls), time.monotonic()
    calls = stack.gh.calls[start:settled]
    operations = []
    for index, call in enumerate(calls, start=start):
        if index == answered:
            operations.append("| answered")
        if index == job_seen[run]:
            operations.append("| job started")
        operations.append(f"{call.method} {call.operation_id or call.path} -> {call.status}")
    return CommandCalls(label, run, answered - start, job_seen[run] - start, settled - start, operations)


def _linked(stack: Stack, run: str) -> bool:
    marker = f"/{run} -->"
    return any(
        marker in (c.get("body") or "") and "/pull/" in (c.get("body") or "")
        for c in stack.gh.comments(stack.scene.repo, ISSUE)
    )


async def measure(warm_commands: int = 3) -> list[CommandCalls]:
    async with running_stack(controller=True) as stack:
        job_seen: dict[str, int] = {}

        def note_job_start(job: dict[str, Any]) -> JobOutcome:
            # The simulator asks for the outcome as the Job starts: the moment to split the count at.
            job_seen.setdefault(job["metadata"]["name"], len(stack.gh.calls))
            return agent_pushes_a_branch(job)

        stack.default_outcome = note_job_start
        results = [await one_command(stack, 100, "cold", job_seen)]
        for number in range(warm_commands):
            results.append(await one_command(stack, 101 + number, f"warm {number + 1}", job_seen))
        return results


def summarize(results: list[CommandCalls]) -> dict[str, Any]:
    cold, warm = results[0], results[1:]
    warm_before_job = max(r.before_job for r in warm) if warm else None
    target = Target(
        "GitHub calls before the Job starts, warm (worst command)",
        None if warm_before_job is None else float(warm_before_job),
        3,
        True,
    )
    return {
        "benchmark": "github-calls",
        "machine": machine(),
        "commands": [r.as_dict() for r in results],
        "cold": {"before_answer": cold.answered, "before_job_start": cold.before_job, "total": cold.total},
        "warm": {
            "before_answer_max": max((r.answered for r in warm), default=None),
            "before_job_start_max": warm_before_job,
            "before_job_start_median": median(r.before_job for r in warm),
            "total_median": median(r.total for r in warm),
        },
        "targets": [target.as_dict()],
    }


def render(result: dict[str, Any]) -> str:
    rows = [[c["label"], c["before_answer"], c["before_job_start"], c["total"]] for c in result["commands"]]
    counts = table(["command", "before the answer", "before the Job starts", "total"], rows)
    cold = result["commands"][0]["operations"]
    warm = result["commands"][-1]["operations"] if len(result["commands"]) > 1 else []
    target = Target(
        result["targets"][0]["name"],
        result["targets"][0]["value"],
        result["targets"][0]["limit"],
        True,
    )
    by_operation = Counter(op for op in warm if not op.startswith("|"))
    listing = "\n".join(f"  {op}" for op in cold)
    warm_listing = "\n".join(f"  {op}" for op in warm)
    return (
        f"{counts}\n\ncold command, in order:\n{listing}\n\nlast warm command, in order:\n{warm_listing}\n\n"
        f"distinct calls of a warm command: {len(by_operation)}\n\n{target.line()}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warm", type=int, default=3, help="warm commands after the cold one (default: %(default)s)"
    )


def main(args: argparse.Namespace) -> int:
    result = summarize(asyncio.run(measure(args.warm)))
    path = write_result("github-calls", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="github-calls",
    summary="GitHub API calls per accepted /code command, cold and warm (before the Job starts, total)",
    add_arguments=add_arguments,
    run=main,
)
