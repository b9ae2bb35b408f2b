"""Memory of the two roles: `serve` and `controller`, started as `orchestrator-bot` processes against
the local Kubernetes and GitHub APIs, measured from /proc after they have settled; then `serve`
through 60 s of bursts at concurrency 64 (issue 17: RSS after them at most 1.3x idle).

The bursts cycle through the intake benchmark's deliveries, 3 s each: comments without a command,
accepted `/code` commands (each a new run), the same `/code` redelivered, ignored `push` events.

The libraries' own share is measured too (a bare interpreter importing one of them), because most of
a role's resident memory is what it imports, not what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import contenders, procstat
from benchmarks.contenders import Cores, ServerProcess
from benchmarks.intake import workloads as intake_workloads
from benchmarks.loadgen import run_cell
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, Target, machine, median, table, write_result

IDLE_SECONDS = 3.0
SAMPLES = 5
BURST_SECONDS = 60.0
BURST_CONCURRENCY = 64
BURST_CELL_SECONDS = 3.0
IDLE_LIMIT_MIB = 90.0
GROWTH_LIMIT = 1.3
LIBRARIES = (
    ("python (nothing imported)", "pass"),
    ("aiohttp.web", "import aiohttp.web"),
    ("gidgethub.aiohttp", "import gidgethub.aiohttp"),
    ("pydantic + pydantic_settings", "import pydantic, pydantic_settings"),
    ("kubernetes_asyncio.client (eager, as the package loads itself)", "import kubernetes_asyncio.client"),
    (
        "kubernetes_asyncio: ApiClient, config and CustomObjectsApi, lazily (bot/kubernetes_lazy.py)",
        "import bot; from kubernetes_asyncio import client, config; client.ApiClient; client.CustomObjectsApi",
    ),
    ("bot.cli (everything the console script imports)", "import bot.cli"),
)


def library_rss() -> dict[str, float]:
    """RSS (MiB) of a fresh interpreter after one import statement. Read from /proc/self/status:
    getrusage's ru_maxrss would carry over this (large) process's peak through fork and exec."""
    measured = {}
    for label, statement in LIBRARIES:
        code = (
            f"{statement}\n"
            "print(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])"
        )
        output = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
        ).stdout
        measured[label] = int(output.split()[-1]) / 1024
    return measured


async def settled_rss(process: ServerProcess) -> dict[str, float]:
    await asyncio.sleep(IDLE_SECONDS)
    if process.popen.poll() is not None:
        raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
    samples = []
    for _ in range(SAMPLES):
        samples.append(procstat.rss_bytes(process.pids()) / MIB)
        await asyncio.sleep(0.2)
    return {"rss_mib": median(samples), "peak_rss_mib": procstat.peak_rss_bytes(process.pids()) / MIB}


async def burst_rss(
    process: ServerProcess, github_url: str, seconds: float = BURST_SECONDS
) -> dict[str, Any]:
    """RSS of `serve` before, during and after `seconds` of bursts at concurrency 64."""
    idle = await settled_rss(process)
    loads = list(intake_workloads(github_url).values())
    samples, sent, statuses = [], 0, Counter[int]()
    deadline = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < deadline:
        workload = loads[turn % len(loads)]
        turn += 1
        cell = min(BURST_CELL_SECONDS, max(0.1, deadline - time.monotonic()))
        result = await run_cell(workload.requests(process.url, 40_000), BURST_CONCURRENCY, max_seconds=cell)
        sent += result.completed
        statuses.update(result.statuses)
        samples.append(procstat.rss_bytes(process.pids()) / MIB)
    after = await settled_rss(process)
    return {
        "idle_rss_mib": idle["rss_mib"],
        "during_max_rss_mib": max(samples, default=0.0),
        "after_rss_mib": after["rss_mib"],
        "peak_rss_mib": after["peak_rss_mib"],
        "growth": after["rss_mib"] / idle["rss_mib"] if idle["rss_mib"] else None,
        "deliveries": sent,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "seconds": seconds,
        "concurrency": BURST_CONCURRENCY,
    }


async def measure(baseline: str | None = None, burst_seconds: float = BURST_SECONDS) -> dict[str, Any]:
    cores = Cores.detect()
    with (
        cores.load_generator_pinned(),
        tempfile.TemporaryDirectory(prefix="orchestrator-bot-memory-") as scratch,
    ):
        workdir = Path(scratch)
        upstreams = await contenders.start_upstreams(workdir, cores)
        started: list[ServerProcess] = []
        roles: dict[str, dict[str, float]] = {}
        bursts: dict[str, dict[str, Any]] = {}
        try:
            serve = await contenders.start_ours(workdir, cores, upstreams, name="serve")
            started.append(serve)
            controller = await contenders.start_controller(workdir, cores, upstreams)
            started.append(controller)
            roles["serve"], roles["controller"] = await asyncio.gather(
                settled_rss(serve), settled_rss(controller)
            )
            old = None
            if baseline is not None:
                source = contenders.extract_revision(baseline, workdir / "baseline")
                old = await contenders.start_ours(
                    workdir, cores, upstreams, name="serve-baseline", source=source
                )
                started.append(old)
                roles[f"serve at {baseline}"] = await settled_rss(old)
            # The controller is stopped first: the bursts measure serve alone.
            controller.stop()
            if burst_seconds > 0:
                bursts["serve"] = await burst_rss(serve, upstreams.github_url, burst_seconds)
                if old is not None:
                    bursts[f"serve at {baseline}"] = await burst_rss(old, upstreams.github_url, burst_seconds)
        finally:
            for process in [*started, *upstreams.processes()]:
                process.stop()
    serve_burst = bursts.get("serve")
    goals = [
        Target("serve idle RSS MiB", roles["serve"]["rss_mib"], IDLE_LIMIT_MIB, True),
        Target(
            f"serve RSS after {burst_seconds:g} s of c={BURST_CONCURRENCY} bursts / idle",
            None if serve_burst is None else serve_burst["growth"],
            GROWTH_LIMIT,
            True,
        ),
    ]
    return {
        "benchmark": "memory",
        "machine": machine(),
        "idle_seconds": IDLE_SECONDS,
        "roles": roles,
        "bursts": bursts,
        "targets": [goal.as_dict() for goal in goals],
        "libraries_rss_mib": library_rss(),
    }


def render(result: dict[str, Any]) -> str:
    roles = table(
        ["role (idle)", "RSS MiB", "peak RSS MiB"],
        [[name, r["rss_mib"], r["peak_rss_mib"]] for name, r in result["roles"].items()],
    )
    libraries = table(
        ["a fresh interpreter after importing", "RSS MiB"],
        list(result["libraries_rss_mib"].items()),
    )
    bursts = table(
        [
            "serve",
            "idle MiB",
            "max during MiB",
            "after MiB",
            "after / idle",
            "peak MiB",
            "deliveries",
            "statuses",
        ],
        [
            [
                name,
                b["idle_rss_mib"],
                b["during_max_rss_mib"],
                b["after_rss_mib"],
                b["growth"],
                b["peak_rss_mib"],
                b["deliveries"],
                " ".join(f"{status}x{count}" for status, count in b["statuses"].items()),
            ]
            for name, b in result.get("bursts", {}).items()
        ],
    )
    goals = "\n".join(Target(**_target_args(t)).line() for t in result.get("targets", []))
    return f"{roles}\n\n{bursts}\n\n{libraries}\n\n{goals}"


def _target_args(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": target["name"],
        "value": target["value"],
        "limit": target["limit"],
        "at_most": target["comparison"] == "<=",
        "detail": target["detail"],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline", metavar="REVISION", help="also measure serve as of this git revision (e.g. HEAD)"
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        default=BURST_SECONDS,
        help="seconds of c=64 bursts against serve (default: %(default)s; 0 skips them)",
    )


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(measure(args.baseline, args.burst_seconds))
    path = write_result("memory", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="memory",
    summary="RSS of serve and controller idle, of serve after 60 s of c=64 bursts, of the libraries they import",
    add_arguments=add_arguments,
    run=main,
)
