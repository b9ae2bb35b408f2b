"""The benchmark harness measures what it claims to: a tiny intake run (floor and our serve, no
Probot, a few dozen deliveries) sends every delivery, gets the answers each server gives, and computes
the ratios. No timing is asserted: these machines are shared and the numbers are noise at this size."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from benchmarks import run_calls, run_page
from benchmarks.__main__ import BENCHMARKS, build_parser
from benchmarks.intake import IntakeConfig, run_intake
from benchmarks.intake_summary import render, targets
from benchmarks.loadgen import Workload, run_cell
from benchmarks.report import percentile

DELIVERIES = 24
TINY = IntakeConfig(
    contenders=("floor", "ours"),
    concurrency=(1, 4),
    rounds=2,
    cell_seconds=30.0,  # bounded by count here: every cell sends all its deliveries
    max_deliveries=DELIVERIES,
    warmup=4,
)


@pytest.fixture(scope="module")
def tiny_result() -> dict[str, Any]:
    return asyncio.run(run_intake(TINY, log=lambda _: None))


def cells(result: dict[str, Any], contender: str, workload: str) -> list[dict[str, Any]]:
    return [c for c in result["cells"] if c["contender"] == contender and c["workload"] == workload]


WORKLOADS = ("plain", "ignored", "command", "redelivered")


def test_every_cell_sends_and_completes_every_delivery(tiny_result: dict[str, Any]) -> None:
    # 2 contenders x 4 workloads x 2 concurrency levels x 2 rounds
    assert len(tiny_result["cells"]) == 32
    for cell in tiny_result["cells"]:
        assert cell["sent"] == cell["completed"] == DELIVERIES, cell
        assert cell["failures"] == {}
        assert sum(cell["statuses"].values()) == DELIVERIES


def test_each_server_answers_as_it_should(tiny_result: dict[str, Any]) -> None:
    for workload in WORKLOADS:
        assert all(c["statuses"] == {"202": DELIVERIES} for c in cells(tiny_result, "floor", workload))
    for cell in cells(tiny_result, "ours", "plain"):
        assert cell["statuses"] == {"200": DELIVERIES}
        assert json.loads(cell["sample_bodies"]["200"]) == {
            "event": "issue_comment",
            "outcome": "nothing_to_do",
        }
    for cell in cells(tiny_result, "ours", "ignored"):
        assert cell["statuses"] == {"202": DELIVERIES}
        assert json.loads(cell["sample_bodies"]["202"]) == {"event": "push", "outcome": "ignored"}
    for cell in cells(tiny_result, "ours", "command"):
        # Every delivery is another comment, so every one creates its own run.
        assert cell["distinct_bodies"] == DELIVERIES
        assert cell["statuses"] == {"200": DELIVERIES}
        assert json.loads(cell["sample_bodies"]["200"])["done"][0].startswith("created CodeRun ")
    for cell in cells(tiny_result, "ours", "redelivered"):
        # The same comment every time: its run was stored by the first (a warm-up delivery).
        assert cell["statuses"] == {"200": DELIVERIES}
        assert json.loads(cell["sample_bodies"]["200"])["done"][0].endswith("already existed")


def test_no_accepted_command_is_lost_or_stored_twice(tiny_result: dict[str, Any]) -> None:
    # Every command cell and its warm-up created one run per delivery, the redelivered comment one.
    expected = 2 * 2 * DELIVERIES + TINY.warmup + 1
    assert tiny_result["stored"] == {"created_answers": expected, "runs_stored": expected}
    [lost] = [t for t in tiny_result["targets"] if t["name"] == "accepted commands lost or stored twice"]
    assert (lost["value"], lost["met"]) == (0.0, True)


def test_ratios_are_computed_for_every_cell_against_the_floor(tiny_result: dict[str, Any]) -> None:
    ratios = tiny_result["ratios"]
    assert {(r["workload"], r["concurrency"], r["contender"], r["versus"]) for r in ratios} == {
        (workload, concurrency, "ours", "floor") for workload in WORKLOADS for concurrency in (1, 4)
    }
    for ratio in ratios:
        for metric in ("p50_ms", "p99_ms", "throughput_rps", "server_cpu_ms_per_delivery"):
            assert isinstance(ratio[metric], float) and ratio[metric] > 0, (ratio, metric)


def test_summary_and_targets_cover_what_ran(tiny_result: dict[str, Any]) -> None:
    assert {(s["contender"], s["workload"], s["concurrency"]) for s in tiny_result["summary"]} == {
        (contender, workload, concurrency)
        for contender in ("floor", "ours")
        for workload in WORKLOADS
        for concurrency in (1, 4)
    }
    assert all(s["deliveries"] == 2 * DELIVERIES for s in tiny_result["summary"])
    by_name = {t["name"]: t for t in tiny_result["targets"]}
    for measured in (
        "comment without a command, CPU/delivery, ours / floor",
        "ignored event, CPU/delivery, ours / floor",
        "accepted /code p99 ms at the highest concurrency",
        "(issue 10) ignored event p99, ours / floor",
    ):
        assert by_name[measured]["value"] is not None, measured
    # Without Probot its targets are reported as not measured, not as met or missed.
    assert [t["met"] for t in tiny_result["targets"] if "Probot" in t["name"]] == [None, None, None]
    assert set(tiny_result["memory"]) == {"floor", "ours"}
    assert "ours / floor" in render(tiny_result)


def test_throughput_targets_use_the_saturating_concurrency() -> None:
    ratios = [
        {"workload": "ignored", "versus": "probot", "concurrency": c, "throughput_rps": v, "p99_ms": 1.0}
        for c, v in ((1, 1.2), (16, 2.5), (64, 2.2))
    ]
    [ignored] = [t for t in targets(ratios) if t.name.startswith("(issue 10) ignored event throughput")]
    assert (ignored.value, ignored.met, ignored.detail) == (2.2, True, "worst at concurrency 64")


async def test_raw_client_reads_sized_and_chunked_answers(aiohttp_server: Any) -> None:
    async def sized(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, text="sized")

    async def chunked(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"chun", b"ked"):
            await response.write(part)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/sized", sized)
    app.router.add_post("/chunked", chunked)
    server = await aiohttp_server(app)
    workload = Workload("w", "push", b'{"zen": "x"}', "secret")
    for path, status, body in (("/sized", 202, b"sized"), ("/chunked", 200, b"chunked")):
        result = await run_cell(workload.requests(str(server.make_url(path)), 10), 3)
        assert (result.completed, dict(result.statuses), result.sample_bodies[status]) == (
            10,
            {status: 10},
            body,
        )


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.99)) == (50.0, 99.0, 0.0)


def test_every_benchmark_is_one_registered_subcommand() -> None:
    names = [benchmark.name for benchmark in BENCHMARKS]
    assert names == [
        "intake",
        "github-calls",
        "controller-scale",
        "memory",
        "run-calls",
        "log-flood",
        "run-page",
    ]
    parser = build_parser()
    assert parser.parse_args(["intake", "--quick"]).quick is True
    assert parser.parse_args(["controller-scale", "--runs", "10"]).runs == 10
    assert parser.parse_args(["run-calls", "--minutes", "2"]).minutes == 2
    assert parser.parse_args(["log-flood", "--rate", "50", "--seconds", "5"]).rate == 50
    assert parser.parse_args(["run-page", "--backends", "sqlite"]).backends == ["sqlite"]


def test_a_short_run_page_benchmark_writes_renders_and_streams_every_line(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run-page", "--seconds", "1", "--viewers", "3", "--backends", "sqlite"])
    result = asyncio.run(run_page.measure(args, tmp_path))["results"]["sqlite"]
    assert result["write"]["stored"] == result["write"]["lines"] >= 200
    assert result["render"]["events"] == 5000 and result["render"]["page_ms"]["median"] > 0
    assert result["viewers"]["every_viewer_got_every_line"] is True


def test_a_short_run_counts_its_calls_and_edits() -> None:
    """run-calls on a 6-second run: the harness sees the comment, the check run and their edits."""
    result = asyncio.run(run_calls.measure(0.1))
    operations = result["by_operation"]
    assert operations["POST issues/create-comment"] == 1
    assert operations["POST checks/create"] == 1
    assert result["comment_edits"] == operations["PATCH issues/update-comment"] >= 1
    assert result["most_writes_in_60_s"] <= result["writes"] <= result["calls"]
    assert result["targets"][0]["name"] == "GitHub writes in any 60 s window"


async def test_the_gidgethub_contender_verifies_decodes_and_answers(aiohttp_client: Any) -> None:
    from benchmarks.gidgethub_bot import create_bot_app, parse_code
    from bot.sandbox.deliveries import webhook_headers

    client = await aiohttp_client(create_bot_app("secret"))
    body = json.dumps({"action": "created", "comment": {"body": "hi\n/code 5 --service trader"}}).encode()
    signed = webhook_headers("issue_comment", body, "secret")
    assert (await client.post("/webhook", data=body, headers=signed)).status == 200
    forged = webhook_headers("issue_comment", body, "other")
    assert (await client.post("/webhook", data=body, headers=forged)).status == 401
    assert parse_code("/code 5 --service trader") == {"task_id": 5, "service": "trader", "model": None}
    assert parse_code("no command here") is None
