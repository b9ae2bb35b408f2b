"""Webhook intake: our `serve` against a bare aiohttp floor and Probot 14, side by side.

Four workloads, each a real signed delivery (from @octokit/webhooks-examples) sent with a fresh
delivery id every time:
- plain: `issue_comment` `created` without a command, what almost every comment is: `serve` decodes
  it, finds nothing addressed to it and answers;
- ignored: `push`, which `serve` answers from the X-GitHub-Event header without decoding;
- command: `issue_comment` `created` with `/code 5 --service trader` by a user allowed to run it, so
  `serve` creates a CodeRun in the local Kubernetes API (permission cache warm), Probot parses the
  command line and returns, and the floor only checks the signature;
- redelivered: the same `/code` comment again and again (GitHub's redeliveries): `serve` finds the
  run already stored (409) and answers.

After the rounds, the CodeRuns in the local Kubernetes API are counted against the answers that said
"created": an accepted command that was lost, or stored twice, shows as a difference.

Every contender gets the same request bytes. Warm-up deliveries are sent first and not measured; then
rounds interleave the contenders (rotating who goes first) at each concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import contenders, procstat
from benchmarks.contenders import Cores, ServerProcess, Upstreams
from benchmarks.intake_summary import (
    BASELINE,
    CONTENDERS,
    WORKLOADS,
    Cell,
    Measured,
    cell_from,
    render,
    summarize,
)
from benchmarks.loadgen import Client, Workload, run_cell
from benchmarks.probot import ProbotUnavailable
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, write_result
from bot.kube import Kube, api_client
from bot.sandbox import payloads
from bot.sandbox.deliveries import encode_payload
from bot.sandbox.github.delivery_objects import comment_object
from bot.sandbox.github.identity import RepoRef
from bot.sandbox.stack import NAMESPACE

COMMAND_TEXT = "/code 5 --service trader"
PLAIN_TEXT = (
    "Thanks, this looks right to me. The order book still needs a test for partial fills; "
    "I will look at it tomorrow."
)
ISSUE_NUMBER = 5
COMMENT_ID = 9_000_000_000
"""The comment's id in the built payload, replaced in every delivery by a fresh one of the same width."""
Log = Callable[[str], None]


@dataclass(frozen=True)
class IntakeConfig:
    contenders: tuple[str, ...] = CONTENDERS
    workloads: tuple[str, ...] = WORKLOADS
    concurrency: tuple[int, ...] = (1, 16, 64)
    rounds: int = 5
    cell_seconds: float = 2.0
    """Every cell lasts this long (unless it runs out of deliveries first): each contender is then
    exposed to the same stretch of the shared machine's hiccups, which are what sets a p99 here."""
    max_deliveries: int = 40_000
    """Per cell; prepared (each with its own delivery id) before the cell starts."""
    warmup: int = 4000
    """Per contender and workload, at concurrency 16; Probot needs thousands before V8 settles."""
    client: Client = "raw"
    log_level: str = "INFO"
    """For `serve` and Probot alike (both log a line or two per handled delivery at INFO)."""
    baseline: str | None = None
    """A git revision whose `serve` runs as one more contender ("baseline"), for before/after."""
    profile: Path | None = None
    """Run our `serve` under cProfile and write its statistics here (slows ours down: for finding
    where the time goes, not for the ratios)."""


FULL = IntakeConfig()
QUICK = IntakeConfig(concurrency=(1, 16), rounds=3, cell_seconds=1.0, max_deliveries=20_000, warmup=1500)


def workloads(github_url: str) -> dict[str, Workload]:
    """The four deliveries, built from the recorded payloads and aimed at the demo scene."""
    repo = RepoRef.parse(contenders.REPOSITORY)
    user = contenders.COMMAND_USER
    push = payloads.push(repo, sender=user, installation_id=contenders.INSTALLATION_ID, api_url=github_url)

    def comment_delivery(text: str, comment_id: int) -> bytes:
        comment = comment_object(repo, ISSUE_NUMBER, text, user, comment_id=comment_id, api_url=github_url)
        return encode_payload(
            payloads.issue_comment_created(
                repo,
                ISSUE_NUMBER,
                comment,
                user,
                installation_id=contenders.INSTALLATION_ID,
                issue_title="Task 5: order book for the trader service",
                api_url=github_url,
            )
        )

    secret = contenders.WEBHOOK_SECRET
    command = comment_delivery(COMMAND_TEXT, COMMENT_ID)
    return {
        "plain": Workload("plain", "issue_comment", comment_delivery(PLAIN_TEXT, COMMENT_ID - 1), secret),
        "ignored": Workload("ignored", "push", encode_payload(push), secret),
        "command": Workload("command", "issue_comment", command, secret, unique=str(COMMENT_ID).encode()),
        "redelivered": Workload("redelivered", "issue_comment", command, secret),
    }


@dataclass
class Running:
    servers: dict[str, ServerProcess]
    upstreams: Upstreams | None

    def helper_pids(self) -> list[int]:
        if self.upstreams is None:
            return []
        return [pid for process in self.upstreams.processes() for pid in process.pids()]

    def stop(self) -> None:
        for process in self.servers.values():
            process.stop()
        if self.upstreams is not None:
            for process in self.upstreams.processes():
                process.stop()


async def start(config: IntakeConfig, workdir: Path, cores: Cores, log: Log) -> Running:
    running = Running({}, None)
    try:
        if "ours" in config.contenders:
            running.upstreams = await contenders.start_upstreams(workdir, cores)
        starters: dict[str, Any] = {}
        if "floor" in config.contenders:
            starters["floor"] = contenders.start_floor(workdir, cores)
        if "ours" in config.contenders and running.upstreams is not None:
            starters["ours"] = contenders.start_ours(
                workdir, cores, running.upstreams, log_level=config.log_level, profile=config.profile
            )
        if "gidgethub" in config.contenders:
            starters["gidgethub"] = contenders.start_gidgethub_bot(workdir, cores)
        if "probot" in config.contenders:
            starters["probot"] = contenders.start_probot(workdir, cores, log_level=config.log_level)
        if config.baseline is not None and running.upstreams is not None:
            source = contenders.extract_revision(config.baseline, workdir / "baseline")
            starters["baseline"] = contenders.start_ours(
                workdir, cores, running.upstreams, name="baseline", log_level=config.log_level, source=source
            )
        started = await asyncio.gather(*starters.values(), return_exceptions=True)
        for name, outcome in zip(starters, started, strict=True):
            if isinstance(outcome, ProbotUnavailable):
                log(f"probot: left out ({outcome})")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                running.servers[name] = outcome
    except BaseException:
        running.stop()
        raise
    return running


async def measure(
    server: ServerProcess,
    workload: Workload,
    count: int,
    concurrency: int,
    config: IntakeConfig,
    helpers: Callable[[], list[int]],
    seconds: float,
) -> Measured:
    deliveries = workload.requests(server.url, count)
    server_pids, helper_pids, me = server.pids(), helpers(), [os.getpid()]
    gc.collect()
    gc.disable()  # a collection in the load generator would show up as server latency
    try:
        server_before, helpers_before, me_before = (
            procstat.cpu(server_pids),
            procstat.cpu(helper_pids),
            procstat.cpu(me),
        )
        result = await run_cell(deliveries, concurrency, max_seconds=seconds, client=config.client)
        server_used = procstat.cpu(server_pids) - server_before
        helpers_used = procstat.cpu(helper_pids) - helpers_before
        me_used = procstat.cpu(me) - me_before
    finally:
        gc.enable()
    return Measured(result, len(deliveries.bodies), server_used, helpers_used, me_used)


async def run_intake(
    config: IntakeConfig, *, workdir: Path | None = None, log: Log = print
) -> dict[str, Any]:
    """Run the benchmark and return its result (also what `results/intake*.json` holds)."""
    cores = Cores.detect()
    with (
        cores.load_generator_pinned(),
        tempfile.TemporaryDirectory(prefix="orchestrator-bot-intake-") as scratch,
    ):
        directory = workdir or Path(scratch)
        log(f"starting {', '.join(config.contenders)} (logs in {directory})")
        running = await start(config, directory, cores, log)
        try:
            github_url = running.upstreams.github_url if running.upstreams else "http://127.0.0.1:9"
            loads = {name: load for name, load in workloads(github_url).items() if name in config.workloads}
            created: dict[str, int] = {}
            cells = await _rounds(config, running, loads, log, created)
            runs = await _stored_runs(running)
            memory = {
                name: {
                    "peak_rss_mib": procstat.peak_rss_bytes(server.pids()) / MIB,
                    "rss_mib": procstat.rss_bytes(server.pids()) / MIB,
                }
                for name, server in running.servers.items()
            }
        except BaseException:
            log(_log_tails(running))
            raise
        finally:
            running.stop()
    pinning = {"load_generator": sorted(cores.load), "servers": sorted(cores.server)}
    stored = None if runs is None else {"created_answers": sum(created.values()), "runs_stored": runs}
    return summarize(asdict(config), cells, memory, pinning, list(running.servers), stored)


async def _stored_runs(running: Running) -> int | None:
    """The CodeRuns in the local Kubernetes API (None when no contender of ours ran)."""
    if running.upstreams is None:
        return None
    async with api_client(running.upstreams.kubeconfig, "benchmark") as api:
        return len(await Kube(api).list_runs("CodeRun", NAMESPACE))


async def _rounds(
    config: IntakeConfig, running: Running, loads: dict[str, Workload], log: Log, created: dict[str, int]
) -> list[Cell]:
    """Warm-up, then the interleaved rounds; `created` collects, per contender, the answers that said
    a run was created (warm-up included)."""
    names = [name for name in (*config.contenders, BASELINE) if name in running.servers]
    for workload in loads.values():
        for name in names:
            log(f"warm-up: {name} / {workload.name}: {config.warmup} deliveries")
            warm = await measure(
                running.servers[name], workload, config.warmup, 16, config, running.helper_pids, 60.0
            )
            created[name] = created.get(name, 0) + warm.result.created
    cells: list[Cell] = []
    for round_number in range(config.rounds):
        log(f"round {round_number + 1}/{config.rounds}")
        order = names[round_number % len(names) :] + names[: round_number % len(names)]
        for workload in loads.values():
            for concurrency in config.concurrency:
                for name in order:
                    count = config.max_deliveries
                    helpers = running.helper_pids if name in ("ours", BASELINE) else list
                    measured = await measure(
                        running.servers[name],
                        workload,
                        count,
                        concurrency,
                        config,
                        helpers,
                        config.cell_seconds,
                    )
                    created[name] = created.get(name, 0) + measured.result.created
                    repeated = measured.result.completed > measured.distinct_bodies
                    if workload.unique is not None and helpers is not list and repeated:
                        # Ours would have answered some from the "already exists" path.
                        log(
                            f"warning: {name} answered {measured.result.completed} {workload.name} "
                            f"deliveries, more than the {measured.distinct_bodies} distinct ones built"
                        )
                    cells.append(cell_from(workload.name, name, concurrency, round_number, count, measured))
    return cells


def _log_tails(running: Running) -> str:
    processes = [*running.servers.values(), *(running.upstreams.processes() if running.upstreams else [])]
    return "\n".join(f"--- {p.name} ({p.log_path})\n{p.log_tail(1500)}" for p in processes)


def run(config: IntakeConfig, result_name: str) -> dict[str, Any]:
    result = asyncio.run(run_intake(config))
    path = write_result(result_name, result)
    print()
    print(render(result))
    print(f"\nwritten to {path}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, deliveries and concurrency levels (< 2 minutes)"
    )
    parser.add_argument("--rounds", type=int, help="rounds of interleaved cells (default: 5, quick: 3)")
    parser.add_argument(
        "--concurrency",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        help="comma-separated concurrency levels (default: 1,16,64; quick: 1,16)",
    )
    parser.add_argument(
        "--contenders",
        type=lambda text: tuple(part for part in text.split(",") if part),
        help=f"comma-separated subset of {','.join(CONTENDERS)} (default: all)",
    )
    parser.add_argument(
        "--workloads",
        type=lambda text: tuple(part for part in text.split(",") if part),
        help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REVISION",
        help="also run serve as of this git revision (e.g. HEAD) and report ours / baseline",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run our serve under cProfile and write the statistics to FILE (read: python -m pstats FILE)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default="raw",
        help="load generator: a raw HTTP/1.1 client (default) or aiohttp, to cross-check",
    )


def main(args: argparse.Namespace) -> int:
    config = QUICK if args.quick else FULL
    changes: dict[str, Any] = {"client": args.client, "baseline": args.baseline, "profile": args.profile}
    if args.rounds:
        changes["rounds"] = args.rounds
    if args.concurrency:
        changes["concurrency"] = args.concurrency
    if args.contenders:
        unknown = set(args.contenders) - set(CONTENDERS)
        if unknown:
            raise SystemExit(f"unknown contenders: {', '.join(sorted(unknown))}")
        changes["contenders"] = args.contenders
    if args.workloads:
        unknown = set(args.workloads) - set(WORKLOADS)
        if unknown:
            raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
        changes["workloads"] = args.workloads
    # A quick run, or one against a baseline, never overwrites the full results.
    name = "intake" + ("-quick" if args.quick else "") + ("-baseline" if args.baseline else "")
    result = run(replace(config, **changes), name)
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="intake",
    summary="webhook intake: serve vs a bare aiohttp floor and Probot 14 (latency, throughput, CPU, RSS)",
    add_arguments=add_arguments,
    run=main,
)
