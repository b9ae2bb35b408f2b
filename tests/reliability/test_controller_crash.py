"""A controller SIGKILLed in the middle of a reconcile — once while its Job create is on the wire, once
right after the Job was created — and a standby takes over: no run gets a second Job, a second
ConfigMap or a second tracking comment, and every run still finishes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from bot.sandbox.processes import BotProcess, stack_environment
from bot.sandbox.stack import NAMESPACE, Stack, agent_pushes_a_branch
from tests.flows.conftest import eventually

from .observe import all_jobs, all_runs

LEASE = "orchestrator-controller"


async def lease_holder(api: client.ApiClient) -> str | None:
    try:
        lease = await client.CoordinationV1Api(api).read_namespaced_lease(LEASE, NAMESPACE)
    except client.ApiException:
        return None
    return str(lease.spec.holder_identity)


def created_by(stack: Stack, resource: str, identity: str) -> int:
    agent = f"orchestrator-bot-controller/{identity}"
    return sum(
        r.method == "POST" and r.resource == resource and r.status == 201 and r.user_agent == agent
        for r in stack.kube.requests
    )


async def start_run(stack: Stack, body: str) -> str:
    status, answer = await stack.comment(issue=5, user="alice", body=body)
    assert status == 200, answer
    [done] = json.loads(answer)["done"]
    return str(done.split()[-1])


async def test_a_controller_killed_mid_reconcile_never_makes_a_second_job(
    stack: Stack,
    kube_api: client.ApiClient,
    processes: list[BotProcess],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    stack.default_outcome = lambda job: replace(agent_pushes_a_branch(job), run_seconds=1.0)
    env = stack_environment(stack)

    def controller(identity: str) -> BotProcess:
        process = BotProcess.controller(
            env, tmp_path / f"controller-{identity}.log", identity, lease_seconds=2
        )
        processes.append(process)
        process.start()
        return process

    async def leads(identity: str) -> bool:
        return await lease_holder(kube_api) == identity

    first = controller("first")
    await eventually(lambda: leads("first"), within=20, what="first holds the Lease")
    second = controller("second")  # a standby, as with two replicas

    # Kill point 1: the ConfigMap is made and the Job's create is on its way (the API is slow to answer).
    stack.kube.faults.delay(1.5, method="POST", path_contains="/jobs", times=1)
    one = await start_run(stack, "/code 41 --service trader")
    await eventually(
        lambda: _true(created_by(stack, "configmaps", "first") == 1), what="first made the ConfigMap"
    )
    first.kill()
    await eventually(lambda: leads("second"), within=20, what="second takes over")
    third = controller("third")  # the next standby

    # Kill point 2: right after the Job was created, before the run's status says so.
    jobs_before = created_by(stack, "jobs", "second")
    two = await start_run(stack, "/code 42 --service trader")
    await eventually(
        lambda: _true(created_by(stack, "jobs", "second") > jobs_before), what="second made a Job"
    )
    second.kill()
    await eventually(lambda: leads("third"), within=20, what="third takes over")

    async def finished() -> bool:
        phases = {r["metadata"]["name"]: (r.get("status") or {}) for r in await all_runs(kube_api)}
        return all(
            phases[name].get("phase") == "Succeeded" and phases[name].get("pullRequestUrl")
            for name in (one, two)
        )

    await eventually(finished, within=30, what="both runs finished and were linked")

    assert sorted(job["metadata"]["name"] for job in await all_jobs(kube_api)) == sorted([one, two])
    for resource in ("jobs", "configmaps"):
        made = [r for r in stack.kube.requests if r.method == "POST" and r.resource == resource]
        assert sum(r.status == 201 for r in made) == 2, (resource, [(r.status, r.user_agent) for r in made])
        assert {r.status for r in made} <= {201, 409}
    comments = [c["body"] for c in stack.gh.comments(stack.scene.repo, 5) if c["user"]["type"] == "Bot"]
    for name in (one, two):
        assert sum(f"orchestrator-run: {NAMESPACE}/{name} -->" in body for body in comments) == 1, comments
    assert third.running


async def _true(value: Any) -> bool:
    return bool(value)
