"""Faults on both sides while several runs go from command to pull request. GitHub: 5xx, secondary rate
limits, slow answers. Kubernetes: 500s, 409 conflicts on status updates, slow answers, watch streams cut,
410 Gone, compacted history, the API server going away. In every case the controller converges and
nothing is duplicated or lost: one run per command, one ConfigMap and one Job per run, one 👀 per
command, one tracking comment per run, one check run per run started from a PR, one PR per branch."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes_asyncio import client

from bot.sandbox.github import Fault
from bot.sandbox.stack import NAMESPACE, Stack, running_stack
from tests.flows.conftest import api_client_for, eventually

from .observe import all_jobs, all_runs

PR = 7
ISSUE = 5


@dataclass(frozen=True)
class Started:
    name: str
    comment_id: int
    on_pull_request: bool
    branch: str


@pytest.fixture
async def live() -> AsyncIterator[tuple[Stack, client.ApiClient]]:
    async with running_stack(controller=True) as stack, await api_client_for(stack) as api:
        yield stack, api


async def start(stack: Stack, task: int, *, on_pull_request: bool, attempts: int = 3) -> Started:
    """Comment `/code <task>`; the delivery is resent (same GUID) when the webhook answers 503."""
    issue = PR if on_pull_request else ISSUE
    service = "api" if on_pull_request else "trader"
    payload = stack.comment_payload(
        issue, "alice", f"/code {task} --service {service}", on_pull_request=on_pull_request
    )
    guid = str(uuid.uuid4())
    for _ in range(attempts):
        status, answer = await stack.send("issue_comment", payload, guid=guid)
        if status != 503:
            break
    assert status == 200, answer
    [done] = json.loads(answer)["done"]
    return Started(
        done.split()[-1], int(payload["comment"]["id"]), on_pull_request, f"feature/task-{task}-{service}"
    )


async def start_several(stack: Stack) -> list[Started]:
    return [
        await start(stack, 11, on_pull_request=False),
        await start(stack, 12, on_pull_request=False),
        await start(stack, 21, on_pull_request=True),
        await start(stack, 22, on_pull_request=True),
    ]


def tracking_comments(stack: Stack, run: Started) -> list[dict[str, Any]]:
    marker = f"<!-- orchestrator-run: {NAMESPACE}/{run.name} -->"
    issue = PR if run.on_pull_request else ISSUE
    return [c for c in stack.gh.comments(stack.scene.repo, issue) if marker in c["body"]]


async def converged(stack: Stack, api: client.ApiClient, started: list[Started]) -> bool:
    """Every run succeeded with its PR linked, and GitHub shows it."""
    by_name = {run["metadata"]["name"]: run for run in await all_runs(api)}
    for run in started:
        status = (by_name.get(run.name) or {}).get("status") or {}
        if status.get("phase") != "Succeeded" or not status.get("pullRequestUrl"):
            return False
        comments = tracking_comments(stack, run)
        if not comments or status["pullRequestUrl"] not in comments[-1]["body"]:
            return False
        if run.on_pull_request:
            checks = [c for c in stack.gh.check_runs(stack.scene.repo) if c["external_id"] == run.name]
            if not checks or checks[-1]["conclusion"] != "success":
                return False
    return True


async def assert_nothing_duplicated(stack: Stack, api: client.ApiClient, started: list[Started]) -> None:
    names = sorted(run.name for run in started)
    assert sorted(run["metadata"]["name"] for run in await all_runs(api)) == names
    assert sorted(job["metadata"]["name"] for job in await all_jobs(api)) == names
    created = Counter(
        request.resource
        for request in stack.kube.requests
        if request.method == "POST" and request.status == 201 and request.resource in ("jobs", "configmaps")
    )
    assert created == {"jobs": len(names), "configmaps": len(names)}
    for run in started:
        assert len(tracking_comments(stack, run)) == 1, run
        reactions = stack.gh.reactions(stack.scene.repo, run.comment_id)
        assert [r["content"] for r in reactions] == ["eyes"], run
        checks = [c for c in stack.gh.check_runs(stack.scene.repo) if c["external_id"] == run.name]
        assert len(checks) == (1 if run.on_pull_request else 0), run
        pulls = [p for p in stack.gh.pulls(stack.scene.repo) if p["head"]["ref"] == run.branch]
        assert len(pulls) == 1, run


async def test_github_failing_and_slow(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    for fault in (
        # while the webhook checks permissions (retried before the answer)
        Fault(method="GET", path_pattern=r"/repos/.*/collaborators/.*/permission", status=502, times=2),
        # while the reporter reports
        Fault(method="POST", path_pattern=r"/repos/.*/issues/\d+/comments", status=502, times=3),
        Fault(method="POST", path_pattern=r"/repos/.*/issues/comments/\d+/reactions", status=503, times=2),
        Fault(method="POST", path_pattern=r"/repos/.*/check-runs", status=500, times=2),
        Fault(method="PATCH", path_pattern=r"/repos/.*/issues/comments/\d+", latency=0.5, times=3),
        Fault(method="GET", path_pattern=r"/repos/.*/pulls", latency=0.5, times=4),
    ):
        stack.gh.faults.add(fault)
    started = await start_several(stack)

    await eventually(lambda: converged(stack, api, started), within=60, what="every run reported")

    await assert_nothing_duplicated(stack, api, started)
    assert [f for f in stack.gh.faults.pending if f.status is not None] == []  # every error was met
    assert {call.status for call in stack.gh.calls if call.fault} == {500, 502, 503}


async def test_github_secondary_rate_limits(live: tuple[Stack, client.ApiClient]) -> None:
    """After a secondary limit the bot waits `retry-after` and then spaces its writes a second apart for a
    minute, so this test has one run, and the limits come where they cost the least time."""
    stack, api = live
    stack.gh.faults.add(
        Fault(
            method="GET",
            path_pattern=r"/repos/.*/collaborators/.*/permission",
            secondary_rate_limit=True,
            retry_after=1,
            times=1,
        )
    )
    stack.gh.faults.add(
        Fault(
            method="POST", path_pattern=r"/repos/.*/pulls", secondary_rate_limit=True, retry_after=1, times=1
        )
    )
    started = [await start(stack, 31, on_pull_request=True)]

    await eventually(lambda: converged(stack, api, started), within=60, what="the run reported")

    await assert_nothing_duplicated(stack, api, started)
    assert stack.gh.faults.pending == []
    assert [call.status for call in stack.gh.calls if call.fault] == [403, 403]


async def test_kubernetes_failing_conflicting_and_slow(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    faults = stack.kube.faults
    faults.fail(method="POST", path_contains="/coderuns", status=500, times=1)  # the webhook answers 503
    faults.fail(method="POST", path_contains="/configmaps", status=503, times=1)
    faults.fail(method="POST", path_contains="/jobs", status=500, times=2)
    faults.fail(method="GET", path_contains="/coderuns/", status=500, times=3)
    faults.fail(method="PATCH", path_contains="/coderuns/", status=500, times=2)
    faults.conflict_on_status_update(times=4)
    faults.delay(1.0, method="GET", path_contains="/jobs/", times=2)
    started = await start_several(stack)

    await eventually(lambda: converged(stack, api, started), within=60, what="every run reported")

    await assert_nothing_duplicated(stack, api, started)
    assert stack.kube.faults.pending == 0  # every fault was met


async def test_watch_streams_cut_expired_and_compacted(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    faults = stack.kube.faults
    faults.cut_watch(after_events=2, times=3, path_contains="/coderuns")
    faults.cut_watch(after_events=2, times=3, path_contains="/jobs")
    faults.expire_watch(times=1, path_contains="/jobs")
    faults.expire_watch(times=1, path_contains="/coderuns")
    started = await start_several(stack)
    faults.compact_history()  # every resourceVersion the controller holds is now too old: 410
    # The API server goes away for a moment: every open watch is cut wherever it was.
    await stack.kube.stop()
    await stack.kube.start()

    await eventually(lambda: converged(stack, api, started), within=60, what="every run reported")

    await assert_nothing_duplicated(stack, api, started)
    assert stack.kube.faults.pending == 0  # every cut and expiry was met, and the controller came back
