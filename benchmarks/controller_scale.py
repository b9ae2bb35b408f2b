"""Controller scale: runs created in a burst, time until every Job exists, the controller's RSS as runs
pile up, and the Kubernetes API requests it makes per run.

The controller is the real `orchestrator-bot controller` process (reconciler, reporter and redelivery
sweeper under the Lease), pinned to its own core. The local Kubernetes API and the local GitHub API run
in this process, so every request the controller makes is counted from `LocalKubeAPI.requests`. Runs
are built exactly as `serve` builds them (parse -> origin -> `runs.code_run`), one issue each, and
stored straight into the local API (validated like a request) in a burst: `runs` of them, then more
up to `runs * 5`. Jobs are not simulated: they only have to exist.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from benchmarks import procstat
from benchmarks.contenders import Cores, ServerProcess, controller_command, free_port, spawn
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, Target, machine, table, write_result
from bot.core import runs as run_manifests
from bot.core.commands import command_context, parse
from bot.core.commands.code import CodeArgs
from bot.core.events import IssueCommentEvent
from bot.core.taskconfig import CONFIGMAP_KEY, parse_task_config
from bot.sandbox import payloads
from bot.sandbox.github import LocalGitHubAPI
from bot.sandbox.github.seed import DemoScene, seed_demo
from bot.sandbox.kube import LocalKubeAPI
from bot.sandbox.stack import NAMESPACE, WEBHOOK_SECRET, cluster_objects

CONTROLLER_AGENT = "orchestrator-bot-controller"
FIRST_ISSUE = 1000
SETTLE_SECONDS = 2.0
"""No Kubernetes request from the controller for this long: it has caught up."""
SETTLE_LIMIT_SECONDS = 60.0
SETTLE_LIMIT_PER_RUN_SECONDS = 0.1
"""A burst of N runs may take 60 s + N * 0.1 s before the benchmark gives up on it."""
RSS_SETTLE_SECONDS = 2.0


@dataclass
class Phase:
    """One burst of runs and what the controller did about it."""

    runs_before: int
    runs_created: int
    create_seconds: float
    """How long storing the burst took (the controller sees the first runs meanwhile)."""
    all_jobs_seconds: float
    """From the first run stored to the last Job created."""
    settled_seconds: float
    requests: Counter[str]
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float

    def as_dict(self) -> dict[str, Any]:
        total = sum(self.requests.values())
        return {
            "runs_before": self.runs_before,
            "runs_created": self.runs_created,
            "runs_after": self.runs_before + self.runs_created,
            "create_seconds": self.create_seconds,
            "all_jobs_seconds": self.all_jobs_seconds,
            "jobs_per_second": self.runs_created / self.all_jobs_seconds if self.all_jobs_seconds else None,
            "settled_seconds": self.settled_seconds,
            "kubernetes_requests": total,
            "kubernetes_requests_per_run": total / self.runs_created,
            "requests_by_kind": dict(self.requests.most_common()),
            "controller_cpu_ms_per_run": self.cpu_seconds / self.runs_created * 1e3,
            "controller_rss_mib": self.rss_mib,
            "controller_peak_rss_mib": self.peak_rss_mib,
        }


UNLIMITED = {"scheduling": {"maxActiveRuns": 0, "maxActiveRunsPerUser": 0}}
"""The benchmark measures how fast runs become Jobs, not the queue: no limits."""


class Scene:
    """The local APIs, and manifests of runs as `serve` would create them."""

    def __init__(self, kube: LocalKubeAPI, gh: LocalGitHubAPI, demo: DemoScene) -> None:
        self.kube = kube
        self.gh = gh
        self.demo = demo
        task_config = next(o for o in cluster_objects(NAMESPACE, UNLIMITED) if o["kind"] == "ConfigMap")
        self.config = parse_task_config(task_config["data"][CONFIGMAP_KEY])
        self.made = 0

    def manifests(self, count: int) -> list[dict[str, Any]]:
        made = []
        for _ in range(count):
            number = FIRST_ISSUE + self.made
            self.made += 1
            # One service per run: a workspace takes one agent at a time (bot.core.schedule).
            body = f"/code {number} --service svc-{number}"
            self.gh.add_issue(self.demo.repo, number, f"Task {number}", user="alice")
            comment = self.gh.add_comment(self.demo.repo, number, "alice", body)
            payload = payloads.issue_comment_created(
                self.demo.repo,
                number,
                comment,
                "alice",
                installation_id=self.demo.installation_id,
                api_url=self.gh.url,
            )
            origin = msgspec.convert(payload, IssueCommentEvent).origin(str(uuid.uuid4()))
            accepted = parse(body, command_context(self.config, origin)).accepted[0]
            assert isinstance(accepted.args, CodeArgs)
            made.append(run_manifests.code_run(accepted.args, origin, accepted.index, self.config, NAMESPACE))
        return made


def controller_requests(kube: LocalKubeAPI, since: int) -> list[Any]:
    return [r for r in kube.requests[since:] if r.user_agent.startswith(CONTROLLER_AGENT)]


def _kind(request: Any) -> str:
    what = request.resource or request.path
    if request.subresource:
        what += "/" + request.subresource
    watch = request.query.get("watch") in ("true", "1")
    return f"{'WATCH' if watch else request.method} {what}"


async def wait_until_watching(kube: LocalKubeAPI, controller: ServerProcess) -> None:
    """The controller holds the Lease and has listed the Jobs (it watches them next)."""
    deadline = time.monotonic() + 60
    while not any(
        r.method == "GET" and r.resource == "jobs" and r.status == 200 for r in controller_requests(kube, 0)
    ):
        if controller.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the controller did not start:\n{controller.log_tail()}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def burst(scene: Scene, controller: ServerProcess, count: int, runs_before: int) -> Phase:
    manifests = scene.manifests(count)
    pids = controller.pids()
    cpu_before = procstat.cpu(pids)
    since = len(scene.kube.requests)
    started = time.perf_counter()
    for index, manifest in enumerate(manifests):
        scene.kube.apply_manifest(manifest)
        if index % 50 == 49:
            await asyncio.sleep(0)  # let the API answer the controller while the burst goes on
    created = time.perf_counter() - started
    jobs = 0
    scanned = since
    limit = SETTLE_LIMIT_SECONDS + SETTLE_LIMIT_PER_RUN_SECONDS * count
    while jobs < count:
        if controller.popen.poll() is not None:
            raise RuntimeError(f"the controller exited:\n{controller.log_tail()}")
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"only {jobs} of {count} Jobs after {limit:.0f} s")
        new = scene.kube.requests[scanned:]
        scanned += len(new)
        jobs += sum(
            1
            for r in new
            if r.method == "POST"
            and r.resource == "jobs"
            and r.status == 201
            and r.user_agent.startswith(CONTROLLER_AGENT)
        )
        await asyncio.sleep(0.01)
    all_jobs = time.perf_counter() - started
    settled = await settle(scene.kube, started, limit)
    cpu_used = procstat.cpu(pids) - cpu_before
    await asyncio.sleep(RSS_SETTLE_SECONDS)
    requests = Counter(_kind(r) for r in controller_requests(scene.kube, since))
    return Phase(
        runs_before,
        count,
        created,
        all_jobs,
        settled,
        requests,
        cpu_used.seconds,
        procstat.rss_bytes(pids) / MIB,
        procstat.peak_rss_bytes(pids) / MIB,
    )


async def settle(kube: LocalKubeAPI, started: float, limit: float) -> float:
    """Seconds from `started` until the controller has been quiet for SETTLE_SECONDS (or `limit`)."""
    seen = len(kube.requests)
    quiet_since = time.perf_counter()
    while time.perf_counter() - quiet_since < SETTLE_SECONDS:
        if time.perf_counter() - started > limit:
            break
        await asyncio.sleep(0.1)
        if controller_requests(kube, seen):
            seen, quiet_since = len(kube.requests), time.perf_counter()
        else:
            seen = len(kube.requests)
    return quiet_since - started


async def measure(runs: int, factor: int = 5) -> dict[str, Any]:
    cores = Cores.detect()
    with (
        cores.load_generator_pinned(),
        tempfile.TemporaryDirectory(prefix="orchestrator-bot-scale-") as scratch,
    ):
        workdir = Path(scratch)
        async with (
            LocalKubeAPI(
                watch_history=max(100_000, runs * factor * 20), kubeconfig_path=workdir / "kubeconfig"
            ) as kube,
            LocalGitHubAPI(webhook_secret=WEBHOOK_SECRET) as gh,
        ):
            for manifest in cluster_objects(NAMESPACE, UNLIMITED):
                kube.apply_manifest(manifest)
            scene = Scene(kube, gh, seed_demo(gh))
            key = workdir / "app.pem"
            key.write_text(gh.private_key_pem)
            controller = spawn(
                "controller",
                [*controller_command(), "--health-port", str(free_port())],
                workdir,
                cores=cores.prefix(cores.server),
                env={
                    "GITHUB_APP_ID": str(gh.app_id),
                    "GITHUB_PRIVATE_KEY_PATH": str(key),
                    "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "GITHUB_API_URL": gh.url,
                    "KUBECONFIG": str(kube.kubeconfig_path),
                    "ORCHESTRATOR_NAMESPACE": NAMESPACE,
                    "ORCHESTRATOR_LOG_LEVEL": "WARNING",
                },
            )
            try:
                await wait_until_watching(kube, controller)
                await asyncio.sleep(RSS_SETTLE_SECONDS)
                idle = procstat.rss_bytes(controller.pids()) / MIB
                first = await burst(scene, controller, runs, 0)
                second = await burst(scene, controller, runs * (factor - 1), runs)
            finally:
                log = controller.log_tail(3000)
                controller.stop()
    return summarize(runs, idle, [first, second], log)


def summarize(runs: int, idle_rss: float, phases: list[Phase], log: str) -> dict[str, Any]:
    last = phases[-1]
    growth = last.rss_mib / idle_rss if idle_rss else None
    requests_per_run = phases[0].as_dict()["kubernetes_requests_per_run"]
    return {
        "benchmark": "controller-scale",
        "machine": machine(),
        "runs": runs,
        "controller_rss_mib": {
            "0": idle_rss,
            **{str(p.runs_before + p.runs_created): p.rss_mib for p in phases},
        },
        "phases": [p.as_dict() for p in phases],
        "targets": [
            Target(
                f"controller RSS at {last.runs_before + last.runs_created} runs / at 0 runs",
                growth,
                2.0,
                True,
            ).as_dict()
        ],
        "kubernetes_requests_per_run": requests_per_run,
        "controller_log_tail": [line for line in log.splitlines() if line.strip()][-20:],
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            f"{p['runs_before']} -> {p['runs_after']}",
            p["create_seconds"],
            p["all_jobs_seconds"],
            p["jobs_per_second"],
            p["settled_seconds"],
            p["kubernetes_requests_per_run"],
            p["controller_cpu_ms_per_run"],
            p["controller_rss_mib"],
            p["controller_peak_rss_mib"],
        ]
        for p in result["phases"]
    ]
    phases = table(
        [
            "runs",
            "burst stored in s",
            "all Jobs exist after s",
            "Jobs/s",
            "controller quiet after s",
            "k8s requests/run",
            "controller CPU ms/run",
            "RSS MiB after",
            "peak RSS MiB",
        ],
        rows,
    )
    rss = table(
        ["runs", "controller RSS MiB"], [[runs, mib] for runs, mib in result["controller_rss_mib"].items()]
    )
    kinds = result["phases"][0]["requests_by_kind"]
    per_run = result["phases"][0]["runs_created"]
    breakdown = table(
        ["request (first burst)", "count", "per run"], [[k, v, v / per_run] for k, v in kinds.items()]
    )
    goal = result["targets"][0]
    line = Target(goal["name"], goal["value"], goal["limit"], True).line()
    return f"{phases}\n\n{rss}\n\n{breakdown}\n\n{line}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs",
        type=int,
        default=1000,
        help="runs in the first burst; the second burst brings the total to 5x (default: %(default)s)",
    )


def main(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    result = asyncio.run(measure(args.runs))
    path = write_result("controller-scale", result)
    print(render(result))
    print(f"\nwritten to {path}")
    return 0 if all(t["met"] is not False for t in result["targets"]) else 1


BENCHMARK = Benchmark(
    name="controller-scale",
    summary="runs created in a burst: time until all Jobs exist, controller RSS at 0 / N / 5N runs, "
    "Kubernetes requests per run",
    add_arguments=add_arguments,
    run=main,
)
