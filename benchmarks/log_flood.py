"""One agent writing 200 lines a second for a minute: is the controller still responsive, are the
GitHub edits still within the throttle, does its memory stay bounded? (issue 14)

`orchestrator-bot controller` runs as its own process with the production intervals (status.progress
at most every 10 s, progress-only comment edits at most every 15 s), against the local Kubernetes and
GitHub APIs and `serve` in this process. The flooding agent (`bot.sandbox.agent.flood`: tool calls and
results, the todo list moving every 100 lines, a result line) runs for `--seconds` at `--rate` lines
a second. Measured before and during the flood:
- responsiveness: the controller's /healthz latency (its event loop), sampled every 0.2 s, and how
  long a new `/code` command (a short agent) waits from the webhook's answer to its Job, every 10 s;
- the controller's CPU (share of one core) and resident memory (sampled every 2 s, and its peak);
- the flooding run's tracking comment edits (how many, the smallest gap between progress-only ones),
  status.progress writes, and whether every line was read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import procstat
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, Target, machine, median, percentile, table, write_result
from benchmarks.run_calls import milestone_of, progress_gaps
from bot.sandbox.agent import flood
from bot.sandbox.kube import JobOutcome
from bot.sandbox.processes import BotProcess, stack_environment
from bot.sandbox.stack import NAMESPACE, Stack, agent_pushes_a_branch, running_stack

ISSUE = 5
FLOOD_TASK = "5"
PROBE_EVERY = 10.0
HEALTH_EVERY = 0.2


class Probe:
    """A new command now and then: how long from the webhook's answer until its Job exists."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.task = 100

    async def job_latency(self) -> float:
        self.task += 1
        status, answer = await self.stack.comment(ISSUE, "alice", f"/code {self.task} --service api")
        if status != 200:
            raise RuntimeError(f"serve answered {status}: {answer}")
        name = json.loads(answer)["done"][0].split()[-1]
        answered = time.monotonic()
        url = f"{self.stack.kube.url}/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}"
        while True:
            async with self.stack.session.get(url) as response:
                if response.status == 200:
                    return time.monotonic() - answered
            if time.monotonic() - answered > 60:
                raise RuntimeError(f"no Job for {name} within 60 s")
            await asyncio.sleep(0.01)


async def health_latencies(session: aiohttp.ClientSession, url: str, until: float) -> list[float]:
    samples = []
    while time.monotonic() < until:
        began = time.monotonic()
        async with session.get(url) as response:
            await response.read()
        samples.append(time.monotonic() - began)
        await asyncio.sleep(HEALTH_EVERY)
    return samples


async def probe_latencies(probe: Probe, until: float) -> list[float]:
    samples = []
    while time.monotonic() < until:
        began = time.monotonic()
        samples.append(await probe.job_latency())
        await asyncio.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - began)))
    return samples


async def resources(controller: BotProcess, until: float) -> list[tuple[float, float]]:
    """(seconds, RSS MiB) every 2 s."""
    samples = []
    while time.monotonic() < until:
        samples.append((time.monotonic(), procstat.rss_bytes(procstat.tree(controller.pid)) / MIB))
        await asyncio.sleep(2.0)
    return samples


async def phase(
    probe: Probe, controller: BotProcess, session: aiohttp.ClientSession, seconds: float
) -> dict[str, Any]:
    until = time.monotonic() + seconds
    pids = procstat.tree(controller.pid)
    cpu_before = procstat.cpu(pids)
    health, probes, memory = await asyncio.gather(
        health_latencies(session, f"{controller.base_url}/healthz", until),
        probe_latencies(probe, until),
        resources(controller, until),
    )
    cpu = procstat.cpu(pids) - cpu_before
    return {
        "seconds": seconds,
        "healthz_ms": {
            "p50": round(median(health) * 1000, 2),
            "p99": round(percentile(health, 0.99) * 1000, 2),
            "max": round(max(health) * 1000, 2),
        },
        "job_start_s": {
            "median": round(median(probes), 3),
            "max": round(max(probes), 3),
            "samples": len(probes),
        },
        "controller_cpu_share": round(cpu.seconds / seconds, 3),
        "rss_mib": [round(rss, 1) for _, rss in memory],
    }


async def measure(rate: float, seconds: float, workdir: Path) -> dict[str, Any]:
    transcript = flood(rate, seconds)

    def decide(job: dict[str, Any]) -> JobOutcome:
        if (job["metadata"].get("labels") or {}).get("task-id") == FLOOD_TASK:
            return JobOutcome(
                succeeded=True, transcript=transcript, termination_message=json.dumps({"branch": "f"})
            )
        return agent_pushes_a_branch(job)

    async with running_stack(controller=False) as stack, aiohttp.ClientSession() as session:
        stack.default_outcome = decide
        probe = Probe(stack)
        controller = BotProcess.controller(stack_environment(stack), workdir / "controller.log", "flood")
        controller.start()
        try:
            await controller.wait_ready(session)
            await probe.job_latency()  # warm-up
            quiet = await phase(probe, controller, session, 20.0)
            gh_start, kube_start = len(stack.gh.calls), len(stack.kube.requests)
            status, answer = await stack.comment(ISSUE, "alice", f"/code {FLOOD_TASK} --service trader")
            if status != 200:
                raise RuntimeError(f"serve answered {status}: {answer}")
            name = json.loads(answer)["done"][0].split()[-1]
            await asyncio.sleep(1.0)  # the Pod starts
            busy = await phase(probe, controller, session, seconds)
            run = await _finished(stack, session, name)
            peak = procstat.peak_rss_bytes(procstat.tree(controller.pid)) / MIB
            calls = stack.gh.calls[gh_start:]
            requests = stack.kube.requests[kube_start:]
        finally:
            controller.close()
    progress = run["status"].get("progress") or {}
    comment_edits = [
        c
        for c in calls
        if c.operation_id == "issues/update-comment" and f"/{name} -->" in json.dumps(c.request_json)
    ]
    gaps = progress_gaps([(c.at, milestone_of(c.request_json["body"])) for c in comment_edits])
    status_writes = [
        r
        for r in requests
        if r.method == "PATCH"
        and r.subresource == "status"
        and r.name == name
        and r.user_agent.startswith("orchestrator-bot-controller")
    ]
    return {
        "benchmark": "log-flood",
        "machine": machine(),
        "rate": rate,
        "seconds": seconds,
        "lines_written": len(transcript),
        "lines_read": progress.get("lines"),
        "quiet": quiet,
        "flood": busy,
        "peak_rss_mib": round(peak, 1),
        "flood_run": {
            "comment_edits": len(comment_edits),
            "min_gap_between_progress_edits_s": round(min(gaps), 2) if gaps else None,
            "status_writes": len(status_writes),
            "final_cost": progress.get("costUsd"),
        },
        "targets": [
            Target(
                "lines read / written", (progress.get("lines") or 0) / len(transcript), 1.0, False
            ).as_dict(),
            Target(
                "controller /healthz p99 during the flood (ms)", busy["healthz_ms"]["p99"], 100, True
            ).as_dict(),
            Target(
                "Job start during / before the flood (median)",
                busy["job_start_s"]["median"] / max(quiet["job_start_s"]["median"], 1e-6),
                2.0,
                True,
            ).as_dict(),
            Target(
                "smallest gap between progress-only comment edits (s)",
                min(gaps) if gaps else None,
                14.5,
                False,
            ).as_dict(),
            Target(
                "controller RSS growth over the flood (MiB)",
                busy["rss_mib"][-1] - quiet["rss_mib"][-1] if busy["rss_mib"] and quiet["rss_mib"] else None,
                20,
                True,
            ).as_dict(),
        ],
    }


async def _finished(stack: Stack, session: aiohttp.ClientSession, name: str) -> dict[str, Any]:
    url = f"{stack.kube.url}/apis/orchestrator.platform/v1/namespaces/{NAMESPACE}/coderuns/{name}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            run: dict[str, Any] = await response.json()
        if (run.get("status") or {}).get("progress", {}).get("ended"):
            return run
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{name}: the log follower did not reach the end of the log")


def render(result: dict[str, Any]) -> str:
    rows = []
    for label in ("quiet", "flood"):
        cell = result[label]
        rows.append(
            [
                label,
                cell["healthz_ms"]["p50"],
                cell["healthz_ms"]["p99"],
                cell["job_start_s"]["median"],
                cell["job_start_s"]["max"],
                cell["controller_cpu_share"],
                f"{min(cell['rss_mib']):g}-{max(cell['rss_mib']):g}",
            ]
        )
    lines = [
        f"{result['rate']:g} lines/s for {result['seconds']:g} s: {result['lines_written']} lines written, "
        f"{result['lines_read']} read by the controller",
        table(
            [
                "phase",
                "/healthz p50 ms",
                "p99 ms",
                "Job start median s",
                "max s",
                "controller CPU",
                "RSS MiB",
            ],
            rows,
        ),
        f"peak RSS {result['peak_rss_mib']} MiB; the flooding run: {result['flood_run']}",
    ]
    for target in result["targets"]:
        lines.append(
            Target(target["name"], target["value"], target["limit"], target["comparison"] == "<=").line()
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="lines a second (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="log-flood-") as workdir:
        result = asyncio.run(measure(args.rate, args.seconds, Path(workdir)))
    path = write_result("log-flood", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="log-flood",
    summary="one agent writing 200 lines/s for a minute: controller responsiveness, edits, memory",
    add_arguments=add_arguments,
    run=main,
)
