"""`python -m benchmarks <name> [options]`: one entry point for every benchmark.

A benchmark is a module that exposes `BENCHMARK` (its name, one-line summary, arguments and runner);
adding one is one line in `BENCHMARKS` below.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks import controller_scale, github_calls, intake, log_flood, memory, run_calls, run_page
from benchmarks.registry import Benchmark

BENCHMARKS: tuple[Benchmark, ...] = (
    intake.BENCHMARK,
    github_calls.BENCHMARK,
    controller_scale.BENCHMARK,
    memory.BENCHMARK,
    run_calls.BENCHMARK,
    log_flood.BENCHMARK,
    run_page.BENCHMARK,
)


def build_parser(benchmarks: Sequence[Benchmark] = BENCHMARKS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure orchestrator-bot; results are written to benchmarks/results/*.json.",
    )
    commands = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for benchmark in benchmarks:
        command = commands.add_parser(benchmark.name, help=benchmark.summary, description=benchmark.summary)
        benchmark.add_arguments(command)
        command.set_defaults(run=benchmark.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
