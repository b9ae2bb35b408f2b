"""One agent per workspace, the limits, the queue's order and its deadlines (issue 15): serve and the
controller running against the local Kubernetes and GitHub APIs, Jobs held until a test lets them go."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from kubernetes_asyncio import client

from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import Stack, running_stack

from .conftest import api_client_for, eventually, list_runs


class Gates:
    """Each Job's agent works until its gate opens; then it succeeds."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, job: str) -> asyncio.Event:
        return self.gates.setdefault(job, asyncio.Event())

    async def outcome(self, job: dict[str, Any]) -> JobOutcome:
        await self.gate(job["metadata"]["name"]).wait()
        result = {"branch": "feature/x", "commit": "0" * 40, "changed": True}
        return JobOutcome(succeeded=True, termination_message=json.dumps(result), run_seconds=0.05)

    def open(self, job: str) -> None:
        self.gate(job).set()


class WorkspaceWatch:
    """Samples the Jobs every few milliseconds: never may two unfinished Jobs share a workspace."""

    def __init__(self, api: client.ApiClient) -> None:
        self.batch = client.BatchV1Api(api)
        self.shared: list[dict[str, list[str]]] = []
        self.samples = 0

    async def sample(self) -> None:
        jobs = (await self.batch.list_namespaced_job("orchestrator")).items
        by_claim: dict[str, list[str]] = {}
        for job in jobs:
            status = job.status
            if status and (status.succeeded or status.failed):
                continue
            for volume in job.spec.template.spec.volumes or []:
                if volume.persistent_volume_claim:
                    by_claim.setdefault(volume.persistent_volume_claim.claim_name, []).append(
                        job.metadata.name
                    )
        self.samples += 1
        twice = {claim: names for claim, names in by_claim.items() if len(names) > 1}
        if twice:
            self.shared.append(twice)

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(0.01)


@asynccontextmanager
async def queue_stack(
    **settings: Any,
) -> AsyncIterator[tuple[Stack, client.ApiClient, Gates, WorkspaceWatch]]:
    gates = Gates()
    async with running_stack(controller=True, task_settings=settings or None) as stack:
        stack.default_outcome = gates.outcome  # type: ignore[assignment]
        async with await api_client_for(stack) as api:
            watch = WorkspaceWatch(api)
            sampler = asyncio.create_task(watch.run())
            try:
                yield stack, api, gates, watch
            finally:
                sampler.cancel()
                for gate in gates.gates.values():
                    gate.set()
    assert watch.samples > 0
    assert watch.shared == [], f"two Jobs on one workspace at once: {watch.shared[:3]}"


SECOND = 1.05
"""creationTimestamp counts whole seconds and ties go by name: runs meant to be in order are made
a second apart."""


async def command(stack: Stack, issue: int, body: str, user: str = "alice") -> str:
    status, answer = await stack.send("issue_comment", stack.comment_payload(issue, user, body))
    assert status == 200, answer
    done = json.loads(answer)["done"]
    return str(done[0].split()[-1])


async def runs_by_name(api: client.ApiClient) -> dict[str, dict[str, Any]]:
    found = await list_runs(api, "CodeRun") + await list_runs(api, "DocsRun")
    return {run["metadata"]["name"]: run for run in found}


async def job_names(api: client.ApiClient) -> set[str]:
    return {
        job.metadata.name for job in (await client.BatchV1Api(api).list_namespaced_job("orchestrator")).items
    }


def phase(run: dict[str, Any]) -> str | None:
    return (run.get("status") or {}).get("phase")


def until(
    api: client.ApiClient, check: Callable[[dict[str, dict[str, Any]]], bool]
) -> Callable[[], Awaitable[Any]]:
    async def poll() -> Any:
        runs = await runs_by_name(api)
        return runs if check(runs) else None

    return poll


async def test_one_agent_per_workspace_in_creation_order_and_a_queued_run_can_be_cancelled() -> None:
    async with queue_stack() as (stack, api, gates, _):
        first = await command(stack, 5, "/code 5 --service trader")
        await asyncio.sleep(SECOND)
        second = await command(stack, 5, "/code 6 --service trader")
        third = await command(stack, 5, "/code 7 --service trader")
        other = await command(stack, 5, "/code 5 --service api")

        runs = await eventually(
            until(api, lambda r: phase(r[second]) == "Queued" and phase(r[third]) == "Queued"),
            what="two queued",
        )
        await eventually(lambda: _has_jobs(api, {first, other}), what="the first trader Job and the api Job")
        assert runs[second]["status"]["message"] == (
            f"Waiting for run `{first}` to finish: one agent at a time works in a workspace (position 1 in line)."
        )
        assert "(position 2 in line)" in runs[third]["status"]["message"]
        assert f"`{first}`" in runs[third]["status"]["message"]

        # The tracking comment of a queued run says so, and its check run (none here: an issue) is queued.
        async def queued_comment() -> dict[str, Any] | None:
            for comment in stack.gh.comments(stack.scene.repo, 5):
                if (
                    f"orchestrator-run: orchestrator/{third}" in comment["body"]
                    and "in line" in comment["body"]
                ):
                    return comment
            return None

        shown = (await eventually(queued_comment, what="the queued comment"))["body"]
        assert "position 2 in line" in shown
        # The run it waits for links to that run's tracking comment, which is on the issue.
        [ahead] = [
            comment
            for comment in stack.gh.comments(stack.scene.repo, 5)
            if f"orchestrator-run: orchestrator/{first} " in comment["body"]
        ]
        link = ahead["html_url"]  # what GitHub calls the comment's address (on an issue: /issues/)
        assert f"Waiting for run [`{first}`]({link}) to finish" in shown

        await command(stack, 5, f"/cancel {third}")
        await eventually(until(api, lambda r: phase(r[third]) == "Cancelled"), what="the third cancelled")

        gates.open(first)
        await eventually(until(api, lambda r: phase(r[first]) == "Succeeded"), what="the first done")
        await eventually(lambda: _has_jobs(api, {second}), what="the second trader Job")
        assert third not in await job_names(api)  # a cancelled queued run never had a Job
        gates.open(second)
        gates.open(other)
        await eventually(
            until(api, lambda r: phase(r[second]) == "Succeeded" and phase(r[other]) == "Succeeded"),
            what="all done",
        )
        assert third not in await job_names(api)


async def _has_jobs(api: client.ApiClient, names: set[str]) -> bool:
    return names <= await job_names(api)


async def test_a_users_limit_holds_a_run_although_its_workspace_is_free() -> None:
    async with queue_stack(scheduling={"maxActiveRunsPerUser": 1}) as (stack, api, gates, _):
        first = await command(stack, 5, "/code 5 --service trader")
        await asyncio.sleep(SECOND)
        waiting = await command(stack, 5, "/code 5 --service api")
        runs = await eventually(
            until(api, lambda r: phase(r[waiting]) == "Queued"), what="the api run queued"
        )
        assert runs[waiting]["status"]["message"] == (
            "Waiting: @alice already has as many agents running as maxActiveRunsPerUser allows (position 1 in line)."
        )
        assert waiting not in await job_names(api)
        # Someone else is not held by alice's limit.
        carols = await command(stack, 5, "/code 9 --service billing", user="carol")
        await eventually(lambda: _has_jobs(api, {first, carols}), what="carol's Job")
        gates.open(first)
        await eventually(lambda: _has_jobs(api, {waiting}), what="the api run starts when alice's first ends")


async def test_a_job_past_its_deadline_fails_the_run_and_github_says_so() -> None:
    async with queue_stack(job={"activeDeadlineSeconds": 1}) as (stack, api, _, _watch):
        stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=30)
        name = await command(stack, 5, "/code 5 --service trader")
        runs = await eventually(until(api, lambda r: phase(r[name]) == "Failed"), within=20, what="Failed")
        assert runs[name]["status"]["message"].startswith(
            "The agent did not finish within its deadline (1 s) and was stopped."
        )

        async def said() -> dict[str, Any] | None:
            for comment in stack.gh.comments(stack.scene.repo, 5):
                if "within its deadline (1 s)" in comment["body"] and "/retry" in comment["body"]:
                    return comment
            return None

        await eventually(said, what="the tracking comment names the deadline and offers /retry")


async def test_many_runs_at_once_with_a_restart_never_share_a_workspace_and_keep_their_order() -> None:
    services = ["trader", "api", "billing", "ledger", "risk"]
    async with queue_stack(scheduling={"maxActiveRuns": 0, "maxActiveRunsPerUser": 0}) as (
        stack,
        api,
        gates,
        watch,
    ):
        names = await asyncio.gather(
            *(command(stack, 5, f"/code {task} --service {services[task % 5]}") for task in range(1, 51))
        )
        started: list[str] = []

        async def record_starts() -> None:
            while True:
                for job in sorted(await job_names(api)):
                    if job not in started:
                        started.append(job)
                await asyncio.sleep(0.02)

        recorder = asyncio.create_task(record_starts())
        try:
            for round_ in range(12):
                await asyncio.sleep(0.3)
                running = [job for job in await job_names(api) if not gates.gate(job).is_set()]
                for job in running[: 1 + round_ % 3]:
                    gates.open(job)
                if round_ == 5:
                    await stack.stop_controller()
                    stack.start_controller()
            for name in names:
                gates.open(name)

            async def all_done() -> bool:
                runs = await runs_by_name(api)
                for name in names:
                    if phase(runs[name]) != "Succeeded":
                        gates.open(name)
                        return False
                return True

            await eventually(all_done, within=90, what="every run done")
        finally:
            recorder.cancel()
        runs = await runs_by_name(api)
        by_service: dict[str, list[str]] = {}
        for name in sorted(names, key=lambda n: (runs[n]["metadata"]["creationTimestamp"], n)):
            by_service.setdefault(runs[name]["spec"]["service"], []).append(name)
        for service, ordered in by_service.items():
            assert [job for job in started if job in ordered] == ordered, service
        assert Counter(runs[n]["spec"]["service"] for n in names) == dict.fromkeys(services, 10)
        assert watch.samples > 50


async def test_a_queued_comment_links_the_run_ahead_once_that_runs_comment_exists() -> None:
    """The queued run may be reported before the run it waits for has a tracking comment: it is
    reported again as soon as that comment is posted, and then links it."""
    from bot.core.feedback import TRACKING_COMMENT_ID
    from bot.github import GitHubApp
    from bot.kube import Kube, api_client
    from bot.reporter import Reporter

    async with running_stack(controller=False) as stack, api_client(stack.kube.kubeconfig_path) as api:
        first = await command(stack, 5, "/code 5 --service trader")
        second = await command(stack, 5, "/code 6 --service trader")
        kube = Kube(api)
        message = f"Waiting for run `{first}` to finish: one agent at a time works in a workspace (position 1 in line)."
        await kube.patch_run_status(
            "CodeRun", "orchestrator", second, {"phase": "Queued", "message": message, "waitingFor": first}
        )
        github = GitHubApp(
            stack.session, app_id=stack.gh.app_id, private_key=stack.gh.private_key_pem, api_url=stack.gh.url
        )
        reporter = Reporter(github, kube, "orchestrator")

        def shown(name: str) -> str:
            [body] = [
                c["body"]
                for c in stack.gh.comments(stack.scene.repo, 5)
                if f"orchestrator-run: orchestrator/{name} " in c["body"]
            ]
            return body

        await reporter.report("CodeRun", second)
        assert f"Waiting for run `{first}` to finish" in shown(second)  # nothing to link yet
        assert len(reporter.queue) == 0

        await reporter.report("CodeRun", first)
        ahead = await kube.get_run("CodeRun", "orchestrator", first)
        assert ahead is not None and ahead["metadata"]["annotations"][TRACKING_COMMENT_ID]
        assert await asyncio.wait_for(reporter.queue.get(), 1) == ("CodeRun", second)
        await reporter.report("CodeRun", second)
        [link] = [
            c["html_url"]
            for c in stack.gh.comments(stack.scene.repo, 5)
            if f"orchestrator-run: orchestrator/{first} " in c["body"]
        ]
        assert f"Waiting for run [`{first}`]({link}) to finish" in shown(second)
