"""Idle memory of the two roles: `serve` and `controller`, started as `orchestrator-bot` processes
against the local Kubernetes and GitHub APIs, measured from /proc after they have settled.

The libraries' own share is measured too (a bare interpreter importing one of them), because most of
a role's resident memory is what it imports, not what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import contenders, procstat
from benchmarks.contenders import Cores, ServerProcess
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, machine, median, table, write_result

IDLE_SECONDS = 3.0
SAMPLES = 5
LIBRARIES = (
    ("python (nothing imported)", "pass"),
    ("aiohttp.web", "import aiohttp.web"),
    ("gidgethub.aiohttp", "import gidgethub.aiohttp"),
    ("pydantic + pydantic_settings", "import pydantic, pydantic_settings"),
    ("kubernetes_asyncio.client", "import kubernetes_asyncio.client"),
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


async def measure(baseline: str | None = None) -> dict[str, Any]:
    cores = Cores.detect()
    with (
        cores.load_generator_pinned(),
        tempfile.TemporaryDirectory(prefix="orchestrator-bot-memory-") as scratch,
    ):
        workdir = Path(scratch)
        upstreams = await contenders.start_upstreams(workdir, cores)
        started: list[ServerProcess] = []
        roles: dict[str, dict[str, float]] = {}
        try:
            serve = await contenders.start_ours(workdir, cores, upstreams, name="serve")
            started.append(serve)
            controller = await contenders.start_controller(workdir, cores, upstreams)
            started.append(controller)
            roles["serve"], roles["controller"] = await asyncio.gather(
                settled_rss(serve), settled_rss(controller)
            )
            if baseline is not None:
                source = contenders.extract_revision(baseline, workdir / "baseline")
                old = await contenders.start_ours(
                    workdir, cores, upstreams, name="serve-baseline", source=source
                )
                started.append(old)
                roles[f"serve at {baseline}"] = await settled_rss(old)
        finally:
            for process in [*started, *upstreams.processes()]:
                process.stop()
    return {
        "benchmark": "memory",
        "machine": machine(),
        "idle_seconds": IDLE_SECONDS,
        "roles": roles,
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
    return f"{roles}\n\n{libraries}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline", metavar="REVISION", help="also measure serve as of this git revision (e.g. HEAD)"
    )


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(measure(args.baseline))
    path = write_result("memory", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0


BENCHMARK = Benchmark(
    name="memory",
    summary="idle RSS of serve and controller (and of the libraries they import)",
    add_arguments=add_arguments,
    run=main,
)
