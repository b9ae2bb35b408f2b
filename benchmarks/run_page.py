"""The run store and the run page (issue 20), on both backends (a SQLite file; Debian's PostgreSQL,
started for the run):

- `write`: one run's transcript at `--rate` lines a second (the target is 200) for `--seconds`,
  through the controller's batching writer (bot/store/writer.py): is every line written, how far
  behind does the writer fall (its buffer, in seconds of lines), what does it cost the process; then
  a burst of 50,000 lines at once (how many lines a second the backend takes at most);
- `render`: `GET /runs/{ns}/{name}` of a 5,000-event transcript, signed in, answered by `serve` in its
  own process: the time to the whole page (median, p95) and serve's CPU per page;
- `viewers`: `--viewers` people (100; each signed in as themselves) watching one live run's page over
  Server-Sent Events while its transcript grows at `--rate` lines a second: serve's CPU share and
  memory, the time from a line's write to each viewer, and whether every viewer got every line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import procstat
from benchmarks.registry import Benchmark
from benchmarks.report import MIB, Target, machine, median, percentile, table, write_result
from bot.core.progress import AgentPod
from bot.core.transcript import PlainText, parse_line
from bot.sandbox.agent import flood
from bot.sandbox.postgres import local_postgres
from bot.sandbox.processes import BotProcess, free_port, stack_environment
from bot.sandbox.stack import NAMESPACE, SESSION_SECRET, Stack, running_stack
from bot.store import open_store
from bot.store.rows import EventRecord, RunRecord, event_record
from bot.store.writer import StoreWriter, WriterOptions

RUN = "code-5-trader-0123456789"
BURST_LINES = 50_000
PAGE_EVENTS = 5_000
PAGE_FETCHES = 20
STAMP = re.compile(r"sent=(\d+\.\d+)")


def run_row(phase: str = "Running") -> RunRecord:
    now = time.time()
    return RunRecord(
        NAMESPACE, RUN, "CodeRun", "demo-org/trader", "alice", phase, now - 60, now,
        finished_at=now if phase == "Succeeded" else None, issue_number=5,
        header={"taskId": 5, "service": "trader", "model": "claude-sonnet-4-20250514"},
    )  # fmt: skip


def flood_events(count: int) -> list[EventRecord]:
    lines = [line for _, line in flood(count / 20, 20)][:count]
    return [
        event_record(NAMESPACE, RUN, "pod-uid", seq, time.time(), parse_line(text))
        for seq, text in enumerate(lines, 1)
    ]


@contextlib.asynccontextmanager
async def backend(name: str, workdir: Path) -> AsyncIterator[str]:
    """The store's URL: a SQLite file, or a database on a PostgreSQL server started for the run."""
    if name == "sqlite":
        yield f"sqlite:///{workdir}/runs-{time.monotonic_ns()}.sqlite3"
        return
    with local_postgres() as server:
        yield server.create_database("bench")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- write -------------------------------------------------------------------------------------------


async def measure_write(url: str, rate: float, seconds: float) -> dict[str, Any]:
    store = open_store(url)
    await store.migrate()
    writer = StoreWriter(store, WriterOptions())
    flusher = asyncio.create_task(writer.run())
    sink = writer.follower_sink(NAMESPACE)
    pod = AgentPod("CodeRun", RUN, RUN + "-pod", "uid-1", "running")
    lines = [parse_line(text) for _, text in flood(rate, seconds)]
    started, cpu_before = time.monotonic(), time.process_time()
    most_buffered = 0
    for index, event in enumerate(lines, 1):
        due = started + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        sink(pod, index, time.time_ns(), event)
        most_buffered = max(most_buffered, writer.buffered)
    fed = time.monotonic() - started
    await stop(flusher)
    await writer.flush()  # what the flusher had not written yet
    drained = time.monotonic() - started - fed
    cpu = time.process_time() - cpu_before
    stored = len(await store.events(NAMESPACE, RUN, limit=len(lines) + 10))
    # The burst: as many lines as the backend takes.
    burst = [PlainText(f"burst line {n}") for n in range(BURST_LINES)]
    began = time.monotonic()
    for index, event in enumerate(burst, len(lines) + 1):
        sink(pod, index, None, event)
    await writer.flush()
    burst_seconds = time.monotonic() - began
    await writer.close()
    return {
        "lines": len(lines),
        "stored": stored,
        "rate": rate,
        "most_buffered": most_buffered,
        "most_behind_s": round(most_buffered / rate, 3),
        "drained_after_s": round(drained, 3),
        "process_cpu_share": round(cpu / (fed + drained), 3),
        "burst_lines_per_s": round(BURST_LINES / burst_seconds),
    }


# --- serve, signed in --------------------------------------------------------------------------------


def page_environment(stack: Stack, url: str, port: int) -> dict[str, str]:
    public = f"http://127.0.0.1:{port}"
    stack.gh.oauth.callback_urls = [f"{public}/auth/callback"]
    return stack_environment(
        stack,
        ORCHESTRATOR_STORE_URL=url,
        ORCHESTRATOR_PUBLIC_URL=public,
        ORCHESTRATOR_SESSION_SECRET=SESSION_SECRET,
        GITHUB_CLIENT_ID=stack.gh.client_id,
        GITHUB_CLIENT_SECRET=stack.gh.client_secret,
        GITHUB_WEB_URL=stack.gh.url,
        ORCHESTRATOR_LOG_LEVEL="WARNING",
    )


async def sign_in(stack: Stack, public: str, login: str) -> aiohttp.ClientSession:
    """A browser's cookie jar, signed in as `login` through the local GitHub's OAuth pages."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    to_github = await session.get(f"{public}/auth/login?next=/runs", allow_redirects=False)
    page = await (await session.get(to_github.headers["Location"])).text()
    fields = {name: html.unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', page)}
    back = await session.post(
        f"{stack.gh.url}/login/oauth/authorize",
        data={**fields, "login": login, "decision": "authorize"},
        allow_redirects=False,
    )
    landed = await session.get(back.headers["Location"], allow_redirects=False)
    if landed.status != 302:
        raise RuntimeError(f"sign-in of {login} failed: {landed.status}")
    return session


@contextlib.asynccontextmanager
async def serving(url: str, workdir: Path) -> AsyncIterator[tuple[Stack, BotProcess, str]]:
    async with running_stack(controller=False) as stack, aiohttp.ClientSession() as probe:
        port = free_port()
        serve = BotProcess.serve(page_environment(stack, url, port), workdir / "serve.log", port)
        serve.start()
        try:
            await serve.wait_ready(probe)
            yield stack, serve, serve.base_url
        finally:
            serve.close()


async def measure_render(url: str, workdir: Path) -> dict[str, Any]:
    store = open_store(url)
    await store.write([run_row("Succeeded")], flood_events(PAGE_EVENTS))
    await store.close()
    async with serving(url, workdir) as (stack, serve, public):
        session = await sign_in(stack, public, "alice")
        try:
            page_url = f"{public}/runs/{NAMESPACE}/{RUN}"
            async with session.get(page_url) as first:
                size = len(await first.read())
            times = []
            pids = procstat.tree(serve.pid)
            cpu_before = procstat.cpu(pids)
            for _ in range(PAGE_FETCHES):
                began = time.perf_counter()
                async with session.get(page_url) as response:
                    await response.read()
                    assert response.status == 200
                times.append(time.perf_counter() - began)
            cpu = procstat.cpu(pids) - cpu_before
        finally:
            await session.close()
    return {
        "events": PAGE_EVENTS,
        "page_bytes": size,
        "page_ms": {
            "median": round(median(times) * 1000, 1),
            "p95": round(percentile(times, 0.95) * 1000, 1),
        },
        "serve_cpu_ms_per_page": round(cpu.seconds / PAGE_FETCHES * 1000, 1),
    }


# --- viewers -----------------------------------------------------------------------------------------


async def watch(session: aiohttp.ClientSession, url: str, latencies: list[float]) -> int:
    """Read one viewer's event stream to its end; the lines it got."""
    got = 0
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as response:
        async for raw in response.content:
            text = raw.decode()
            if not text.startswith("data: "):
                continue
            payload = json.loads(text[6:])
            now = time.time()
            for row in payload.get("rows", []):
                match = STAMP.search(row["html"])
                if match:
                    got += 1
                    latencies.append(now - float(match.group(1)))
    return got


def stamped(count: int, rate: float) -> Iterator[tuple[int, float, str]]:
    """(line number, when it is due, its text up to the time it is sent)."""
    for index in range(count):
        yield index + 1, index / rate, f"line {index} sent="


async def measure_viewers(
    url: str, workdir: Path, viewers: int, rate: float, seconds: float
) -> dict[str, Any]:
    store = open_store(url)
    await store.write([run_row("Running")], [])
    async with serving(url, workdir) as (stack, serve, public):
        for number in range(viewers):
            stack.gh.set_permission(stack.scene.repo, f"viewer-{number}", "read")
        sessions = await asyncio.gather(*(sign_in(stack, public, f"viewer-{n}") for n in range(viewers)))
        latencies: list[float] = []
        pids = procstat.tree(serve.pid)
        rss_before = procstat.rss_bytes(pids) / MIB
        watchers = [
            asyncio.create_task(watch(s, f"{public}/runs/{NAMESPACE}/{RUN}/live?after=0", latencies))
            for s in sessions
        ]
        await asyncio.sleep(2.0)  # every viewer connected
        writer = StoreWriter(store, WriterOptions())
        flusher = asyncio.create_task(writer.run())
        count = int(rate * seconds)
        cpu_before, started, rss_peak = procstat.cpu(pids), time.monotonic(), 0.0
        for seq, at, text in stamped(count, rate):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            line = PlainText(f"{text}{time.time():.6f}")
            writer.add_event(NAMESPACE, RUN, "pod-uid", seq, time.time(), line)
            if seq % int(rate) == 0:
                rss_peak = max(rss_peak, procstat.rss_bytes(pids) / MIB)
        await stop(flusher)
        await writer.flush()
        await asyncio.sleep(2.0)  # the last poll reaches everyone
        cpu = procstat.cpu(pids) - cpu_before
        elapsed = time.monotonic() - started
        await store.write([run_row("Succeeded")], [])
        got = await asyncio.wait_for(asyncio.gather(*watchers), 30)
        for session in sessions:
            await session.close()
        await store.close()
    return {
        "viewers": viewers,
        "rate": rate,
        "lines": count,
        "every_viewer_got_every_line": all(n == count for n in got),
        "fewest_lines_a_viewer_got": min(got),
        "serve_cpu_share": round(cpu.seconds / elapsed, 3),
        "serve_rss_mib": {"before": round(rss_before, 1), "peak": round(rss_peak, 1)},
        "line_to_viewer_s": {
            "p50": round(median(latencies), 3),
            "p99": round(percentile(latencies, 0.99), 3),
        },
    }


# --- the benchmark -----------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in args.backends:
        part: dict[str, Any] = {}
        async with backend(name, workdir) as url:
            part["write"] = await measure_write(url, args.rate, args.seconds)
        async with backend(name, workdir) as url:
            part["render"] = await measure_render(url, workdir)
        async with backend(name, workdir) as url:
            part["viewers"] = await measure_viewers(url, workdir, args.viewers, args.rate, args.seconds)
        results[name] = part
    targets = []
    for name, part in results.items():
        targets += [
            Target(f"{name}: lines written / fed at {args.rate:g}/s", part["write"]["stored"] / part["write"]["lines"], 1.0, False),
            Target(f"{name}: the writer's most lag (s)", part["write"]["most_behind_s"], 1.0, True),
            Target(f"{name}: every viewer got every line", 1.0 if part["viewers"]["every_viewer_got_every_line"] else 0.0, 1.0, False),
        ]  # fmt: skip
    return {
        "benchmark": "run-page",
        "machine": machine(),
        "rate": args.rate,
        "seconds": args.seconds,
        "results": results,
        "targets": [target.as_dict() for target in targets],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate", type=float, default=200.0, help="transcript lines a second (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long each run writes (default: %(default)s)"
    )
    parser.add_argument(
        "--viewers", type=int, default=100, help="people watching one run (default: %(default)s)"
    )
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="run-page-") as directory:
        result = asyncio.run(measure(args, Path(directory)))
    path = write_result("run-page", result)
    rows = []
    for name, part in result["results"].items():
        rows.append([
            name,
            f"{part['write']['stored']}/{part['write']['lines']}",
            part["write"]["most_behind_s"],
            part["write"]["burst_lines_per_s"],
            part["render"]["page_ms"]["median"],
            part["render"]["serve_cpu_ms_per_page"],
            part["viewers"]["serve_cpu_share"],
            part["viewers"]["serve_rss_mib"]["peak"],
            part["viewers"]["line_to_viewer_s"]["p99"],
        ])  # fmt: skip
    print(
        table(
            [
                "backend",
                "written",
                "lag s",
                "burst lines/s",
                "page ms",
                "cpu ms/page",
                "serve cpu",
                "rss MiB",
                "p99 s",
            ],
            rows,
        )
    )
    print(f"wrote {path}")
    return 0 if all(target["met"] is not False for target in result["targets"]) else 1


BENCHMARK = Benchmark(
    "run-page", "the run store's writes, the run page's render and 100 live viewers", add_arguments, run
)
