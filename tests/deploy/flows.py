"""Drive the running stack down every path that touches Kubernetes or GitHub differently, so the calls
recorded by the local APIs are everything the code calls: a /code run on a pull request to its PR link,
a /docs run on an issue, a failed run retried with its check run's button, a running run cancelled,
and the readiness check."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import Stack, agent_pushes_a_branch
from tests.flows.conftest import eventually

PR = 7
ISSUE = 5
Run = dict[str, Any]


async def command(stack: Stack, issue: int, body: str, *, pr: bool = False) -> str:
    """Post a comment as alice; the name of the run it created (or "" if none)."""
    status, answer = await stack.comment(issue, "alice", body, on_pull_request=pr)
    assert status == 200, answer
    done = json.loads(answer)["done"]
    return str(done[0].split()[-1]) if done and done[0].startswith("created") else ""


async def run_in_phase(stack: Stack, name: str, phase: str) -> Run | None:
    """The run, read over HTTP (as a test client, not as the bot), if it is in `phase`."""
    namespace = stack.settings.orchestrator.namespace
    for plural in ("coderuns", "docsruns"):
        url = f"{stack.kube.url}/apis/orchestrator.platform/v1/namespaces/{namespace}/{plural}/{name}"
        async with stack.session.get(url) as response:
            run: Run = await response.json()
        if response.status == 200 and (run.get("status") or {}).get("phase") == phase:
            return run
    return None


async def check_run_for(stack: Stack, name: str, conclusion: str) -> dict[str, Any] | None:
    for check in stack.gh.check_runs(stack.scene.repo):
        if check.get("external_id") == name and check.get("conclusion") == conclusion:
            return check
    return None


async def succeed(stack: Stack, issue: int, body: str, *, pr: bool = False) -> Run:
    name = await command(stack, issue, body, pr=pr)
    assert name, f"{body} made no run"

    async def linked() -> Run | None:
        run = await run_in_phase(stack, name, "Succeeded")
        return run if run and run["status"].get("pullRequestUrl") else None

    return await eventually(linked, what=f"{name} Succeeded with its pull request")


async def drive_every_path(stack: Stack) -> None:
    await succeed(stack, PR, "/code 5 --service trader", pr=True)
    await succeed(stack, ISSUE, "/docs")

    stack.default_outcome = lambda job: JobOutcome(succeeded=False, message="tests failed", run_seconds=0.1)
    failed = await command(stack, PR, "/code 6 --service trader", pr=True)
    check = await eventually(lambda: check_run_for(stack, failed, "failure"), what="a failed check run")
    stack.default_outcome = agent_pushes_a_branch
    status, answer = await stack.press_button(check, "retry")
    assert status == 200, answer
    retried = json.loads(answer)["done"][0].split()[-1]
    await eventually(lambda: run_in_phase(stack, retried, "Succeeded"), what="the retried run")

    stack.default_outcome = lambda job: replace(agent_pushes_a_branch(job), run_seconds=60)
    long = await command(stack, ISSUE, "/code 7 --service trader")
    await eventually(lambda: run_in_phase(stack, long, "Running"), what="Running")
    await command(stack, ISSUE, "/cancel")
    await eventually(lambda: run_in_phase(stack, long, "Cancelled"), what="Cancelled")

    async with stack.session.get(stack.webhook_url.rsplit("/", 1)[0] + "/readyz") as response:
        assert response.status == 200, await response.text()
