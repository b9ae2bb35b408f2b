"""The servers under test, each in a process of its own, and what `serve` talks to.

- floor: `benchmarks.floor` (aiohttp, HMAC check, 202, no parsing);
- gidgethub: `benchmarks.gidgethub_bot`, a typical gidgethub + aiohttp bot with the same handler;
- probot: Probot 14 with an `issue_comment` handler (`benchmarks.probot`);
- ours: `orchestrator-bot serve`, against the local Kubernetes API and the local GitHub API, which run
  as their own processes (`orchestrator-bot sandbox kube-api | github-api`).

Servers are pinned to the last core and everything else (the load generator, the local APIs) to the
first, when `taskset` and two cores exist, so a server never competes with its own load.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

from benchmarks import probot, procstat
from bot.sandbox.github.seed import DEMO_INSTALLATION_ID, DEMO_ORG
from bot.sandbox.stack import NAMESPACE, cluster_objects

WEBHOOK_SECRET = "benchmark-webhook-secret-not-for-production"
GITHUB_APP_ID = 12345
START_TIMEOUT_SECONDS = 60.0
REPOSITORY = f"{DEMO_ORG}/trader"
INSTALLATION_ID = DEMO_INSTALLATION_ID
COMMAND_USER = "alice"
"""Has write permission in the demo scene and an SSH secret in the cluster, so `/code` is accepted."""


@dataclass(frozen=True)
class Cores:
    """Where the load generator (and helpers) and the servers run; empty means "not pinned"."""

    load: frozenset[int]
    server: frozenset[int]

    @classmethod
    def detect(cls) -> Cores:
        available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(available) < 2 or shutil.which("taskset") is None:
            return cls(frozenset(), frozenset())
        return cls(frozenset(available[:-1]), frozenset(available[-1:]))

    @property
    def pinned(self) -> bool:
        return bool(self.server)

    def prefix(self, cores: frozenset[int]) -> list[str]:
        if not cores:
            return []
        return ["taskset", "-c", ",".join(str(core) for core in sorted(cores))]

    @contextlib.contextmanager
    def load_generator_pinned(self) -> Iterator[None]:
        """This process on the load cores while the benchmark runs; its affinity restored after (a
        test session must not stay on one core, nor pass it on to what it starts later)."""
        if not self.load:
            yield
            return
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, self.load)
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A child process with its log file; `pids()` is its process tree for /proc measurements."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def pids(self) -> list[int]:
        return procstat.tree(self.popen.pid)

    def log_tail(self, characters: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    async def wait_until_listening(self, port: int, probe_path: str | None = None) -> None:
        """Until the port accepts connections (and `probe_path`, if given, answers 200)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as session:
            while True:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(OSError, aiohttp.ClientError, TimeoutError):
                    if probe_path is None:
                        _, writer = await asyncio.open_connection("127.0.0.1", port)
                        writer.close()
                        return
                    async with session.get(f"http://127.0.0.1:{port}{probe_path}") as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start in time:\n{self.log_tail()}")
                await asyncio.sleep(0.1)


def spawn(
    name: str,
    argv: list[str],
    workdir: Path,
    *,
    cores: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
) -> ServerProcess:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            [*cores, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**_base_environment(), **env},
            # Not the repository: `python -m` puts the working directory first on sys.path, which
            # would shadow a baseline revision's `bot` with the working tree's.
            cwd=cwd or workdir,
        )
    return ServerProcess(name, popen, log_path)


def _base_environment() -> dict[str, str]:
    """A clean environment: nothing of the caller's GITHUB_* or KUBECONFIG leaks into a server."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    environment = {key: os.environ[key] for key in keep if key in os.environ}
    environment["PYTHONPATH"] = str(_repository_root())
    return environment


def _python() -> list[str]:
    # Unbuffered, so a log shows start-up problems at once.
    return [sys.executable, "-u"]


@dataclass
class Upstreams:
    """The local Kubernetes API and GitHub API that `serve` and `controller` talk to."""

    kube: ServerProcess
    github: ServerProcess
    kubeconfig: Path
    github_url: str
    private_key_path: Path

    def processes(self) -> list[ServerProcess]:
        return [self.kube, self.github]

    def bot_environment(self, log_level: str) -> dict[str, str]:
        """The environment `serve` and `controller` read their settings from."""
        return {
            "GITHUB_APP_ID": str(GITHUB_APP_ID),
            "GITHUB_PRIVATE_KEY_PATH": str(self.private_key_path),
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GITHUB_API_URL": self.github_url,
            "KUBECONFIG": str(self.kubeconfig),
            "ORCHESTRATOR_NAMESPACE": NAMESPACE,
            "ORCHESTRATOR_LOG_LEVEL": log_level,
            # Warm for the whole benchmark: the accepted-command cells measure the warm path.
            "ORCHESTRATOR_PERMISSION_CACHE_SECONDS": "86400",
        }


async def start_upstreams(workdir: Path, cores: Cores, *, simulate_jobs: bool = False) -> Upstreams:
    objects = workdir / "cluster-objects.yaml"
    objects.write_text(yaml.safe_dump_all(cluster_objects(NAMESPACE)))
    kubeconfig = workdir / "kubeconfig"
    private_key = workdir / "github-app.pem"
    kube_port, github_port = free_port(), free_port()
    kube_argv = [
        *_python(),
        "-m",
        "bot",
        "sandbox",
        "kube-api",
        "--port",
        str(kube_port),
        "--kubeconfig",
        str(kubeconfig),
        "--apply",
        str(objects),
        # Watches of thousands of runs must not fall off the end of the change history.
        "--watch-history",
        "100000",
    ]
    if simulate_jobs:
        kube_argv.append("--simulate-jobs")
    kube = spawn("kube-api", kube_argv, workdir, cores=cores.prefix(cores.load), env={})
    github = spawn(
        "github-api",
        [
            *_python(),
            "-m",
            "bot",
            "sandbox",
            "github-api",
            "--port",
            str(github_port),
            "--app-id",
            str(GITHUB_APP_ID),
            "--write-private-key",
            str(private_key),
            "--demo",
        ],
        workdir,
        cores=cores.prefix(cores.load),
        env={},
    )
    upstreams = Upstreams(kube, github, kubeconfig, f"http://127.0.0.1:{github_port}", private_key)
    try:
        await asyncio.gather(kube.wait_until_listening(kube_port), github.wait_until_listening(github_port))
        # The key file is written just after the port opens.
        for _ in range(int(START_TIMEOUT_SECONDS / 0.05)):
            if private_key.exists():
                break
            await asyncio.sleep(0.05)
    except BaseException:
        for process in upstreams.processes():
            process.stop()
        raise
    return upstreams


@dataclass
class Contenders:
    """The servers of one benchmark run, by name, stopped together."""

    servers: dict[str, ServerProcess] = field(default_factory=dict)
    helpers: list[ServerProcess] = field(default_factory=list)

    def stop(self) -> None:
        for process in [*self.servers.values(), *self.helpers]:
            process.stop()

    def __iter__(self) -> Iterator[ServerProcess]:
        return iter(self.servers.values())


async def start_floor(workdir: Path, cores: Cores) -> ServerProcess:
    port = free_port()
    process = spawn(
        "floor",
        [*_python(), "-m", "benchmarks.floor", "--port", str(port)],
        workdir,
        cores=cores.prefix(cores.server),
        env={"FLOOR_WEBHOOK_SECRET": WEBHOOK_SECRET},
    )
    process.url = f"http://127.0.0.1:{port}/webhook"
    await process.wait_until_listening(port)
    return process


async def start_gidgethub_bot(workdir: Path, cores: Cores) -> ServerProcess:
    port = free_port()
    process = spawn(
        "gidgethub",
        [*_python(), "-m", "benchmarks.gidgethub_bot", "--port", str(port)],
        workdir,
        cores=cores.prefix(cores.server),
        env={"GIDGETHUB_WEBHOOK_SECRET": WEBHOOK_SECRET},
    )
    process.url = f"http://127.0.0.1:{port}/webhook"
    await process.wait_until_listening(port)
    return process


async def start_ours(
    workdir: Path,
    cores: Cores,
    upstreams: Upstreams,
    *,
    name: str = "ours",
    log_level: str = "INFO",
    profile: Path | None = None,
    source: Path | None = None,
) -> ServerProcess:
    """`serve`; with `profile`, under cProfile, which writes its statistics there when serve stops;
    with `source`, the `bot` package found there (an older revision, see `extract_revision`)."""
    port = free_port()
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    environment = upstreams.bot_environment(log_level)
    if source is not None:
        environment["PYTHONPATH"] = str(source)
    process = spawn(
        name,
        [*_python(), *profiler, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        workdir,
        cores=cores.prefix(cores.server),
        env=environment,
    )
    process.url = f"http://127.0.0.1:{port}/webhook"
    await process.wait_until_listening(port, "/readyz")
    return process


def controller_command() -> list[str]:
    """`orchestrator-bot controller` as deployed (Lease of 15 s); add `--health-port` (a free one, so
    two controllers on one machine, say a test run's and ours, do not collide)."""
    return [*_python(), "-m", "bot", "controller", "--lease-duration", "15"]


async def start_controller(workdir: Path, cores: Cores, upstreams: Upstreams) -> ServerProcess:
    process = spawn(
        "controller",
        [*controller_command(), "--health-port", str(free_port())],
        workdir,
        cores=cores.prefix(cores.server),
        env=upstreams.bot_environment("WARNING"),
    )
    return process


async def start_probot(workdir: Path, cores: Cores, *, log_level: str = "INFO") -> ServerProcess:
    app_dir = probot.prepare()
    port = free_port()
    process = spawn(
        "probot",
        probot.command(app_dir),
        workdir,
        cores=cores.prefix(cores.server),
        env=probot.environment(app_dir, port, WEBHOOK_SECRET, log_level),
        cwd=app_dir,
    )
    process.url = f"http://127.0.0.1:{port}{probot.WEBHOOK_PATH}"
    await process.wait_until_listening(port, "/ping")
    return process


def _repository_root() -> Path:
    return Path(__file__).resolve().parents[1]


def extract_revision(revision: str, directory: Path) -> Path:
    """`bot/` as of a git revision, unpacked into `directory`, to run as a baseline next to the
    working tree (PYTHONPATH comes before the editable install's finder)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "bot"],
        cwd=_repository_root(),
        capture_output=True,
        check=True,
    ).stdout
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory
