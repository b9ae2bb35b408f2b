"""GitHub feedback driven by run state (issue 7): reaction, tracking comment, check run, PR link,
Cancel/Retry, restarts and GitHub faults. Local GitHub API + local Kubernetes API + Job simulator,
with serve and controller running."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from kubernetes_asyncio import client

from bot.controller import RUN_KINDS
from bot.sandbox.github import Fault
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import NAMESPACE, Stack, agent_pushes_a_branch, running_stack

from .conftest import api_client_for, eventually, list_runs

PR = 7


@pytest.fixture
async def live() -> AsyncIterator[tuple[Stack, client.ApiClient]]:
    async with running_stack(controller=True) as stack, await api_client_for(stack) as api:
        yield stack, api


def bot_comments(stack: Stack, issue: int) -> list[dict[str, Any]]:
    return [c for c in stack.gh.comments(stack.scene.repo, issue) if c["user"]["type"] == "Bot"]


async def command(
    stack: Stack, issue: int, body: str, user: str = "alice", pr: bool = False
) -> tuple[str, int]:
    payload = stack.comment_payload(issue, user, body, on_pull_request=pr)
    status, answer = await stack.send("issue_comment", payload)
    assert status == 200, answer
    done = json.loads(answer)["done"]
    name = done[0].split()[-1] if done and done[0].startswith("created") else ""
    return name, int(payload["comment"]["id"])


async def run_in_phase(api: client.ApiClient, name: str, phase: str) -> dict[str, Any] | None:
    for kind in RUN_KINDS:
        for run in await list_runs(api, kind):
            if run["metadata"]["name"] == name and (run.get("status") or {}).get("phase") == phase:
                return run
    return None


def assert_every_request_was_valid(stack: Stack) -> None:
    for call in stack.gh.calls:
        assert call.validated and not call.problems, (call.method, call.path, call.problems)
        assert call.fault or call.status < 400, (call.method, call.path, call.status, call.response_json)


async def test_comment_to_pull_request_link_on_an_issue(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    name, comment_id = await command(stack, 5, "/code 5 --service trader")
    run = await eventually(lambda: run_in_phase(api, name, "Succeeded"), what="Succeeded")

    async def linked() -> dict[str, Any] | None:
        comments = bot_comments(stack, 5)
        return (
            comments[0]
            if len(comments) == 1 and "/pull/" in comments[0]["body"] and "succeeded" in comments[0]["body"]
            else None
        )

    tracking = await eventually(linked, what="the tracking comment with the PR link")
    [pull] = [p for p in stack.gh.pulls(stack.scene.repo) if p["head"]["ref"] == "feature/task-5-trader"]
    assert pull["html_url"] in tracking["body"]
    assert pull["base"]["ref"] == "main"
    assert "#5" in pull["body"]
    assert f"<!-- orchestrator-run: {NAMESPACE}/{name} -->" in tracking["body"]
    run = await eventually(lambda: _with_url(api, name), what="pullRequestUrl in status")
    assert run["status"]["pullRequestUrl"] == pull["html_url"]
    reactions = stack.gh.reactions(stack.scene.repo, comment_id)
    assert [r["content"] for r in reactions] == ["eyes"]
    assert len(bot_comments(stack, 5)) == 1
    assert stack.gh.check_runs(stack.scene.repo) == []  # not from a PR: no commit to attach a check to
    assert_every_request_was_valid(stack)


async def _with_url(api: client.ApiClient, name: str) -> dict[str, Any] | None:
    run = await run_in_phase(api, name, "Succeeded")
    return run if run and run["status"].get("pullRequestUrl") else None


async def _check_run(
    stack: Stack, conclusion: str | None, status: str = "completed"
) -> dict[str, Any] | None:
    runs = stack.gh.check_runs(stack.scene.repo)
    if len(runs) == 1 and runs[0]["status"] == status and runs[0]["conclusion"] == conclusion:
        return runs[0]
    return None


async def test_check_run_on_the_pull_request_goes_to_success(live: tuple[Stack, client.ApiClient]) -> None:
    stack, _api = live
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)
    check = await eventually(lambda: _check_run(stack, "success"), what="check run success")
    assert check["name"] == "orchestrator / code task-5 (trader)"
    assert check["external_id"] == name
    assert check["head_sha"] == stack.gh.branch_sha(stack.scene.repo, "feature/order-book")
    assert check["actions"] == []
    assert "succeeded" in check["output"]["title"]
    assert_every_request_was_valid(stack)


async def test_failed_run_offers_retry_and_the_button_starts_version_two(
    live: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = live
    stack.default_outcome = lambda job: JobOutcome(succeeded=False, message="tests failed", run_seconds=0.1)
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)
    check = await eventually(lambda: _check_run(stack, "failure"), what="check run failure")
    assert [a["identifier"] for a in check["actions"]] == ["retry"]
    assert "tests failed" in check["output"]["summary"]

    async def failed_comment() -> dict[str, Any] | None:
        found = bot_comments(stack, PR)
        return (
            found[0]
            if found and "failed" in found[0]["body"] and "tests failed" in found[0]["body"]
            else None
        )

    await eventually(failed_comment, what="tracking comment says failed")

    stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=0.1)
    status, answer = await stack.press_button(check, "retry")
    assert status == 200, answer
    retried = json.loads(answer)["done"][0].split()[-1]
    assert retried != name
    runs = {run["metadata"]["name"]: run for run in await list_runs(api, "CodeRun")}
    assert runs[retried]["spec"]["contextVersion"] == 2
    assert runs[retried]["metadata"]["annotations"]["orchestrator.platform/retry-of"] == name
    # Pressing it again (or a redelivery) starts nothing new.
    assert (await stack.press_button(check, "retry"))[0] == 200
    assert len(await list_runs(api, "CodeRun")) == 2


async def test_cancel_while_running(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=60)
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Running"), what="Running")
    await eventually(lambda: _check_run(stack, None, "in_progress"), what="check run in progress")
    assert [a["identifier"] for a in stack.gh.check_runs(stack.scene.repo)[0]["actions"]] == ["cancel"]
    await command(stack, PR, "/cancel", pr=True)
    run = await eventually(lambda: run_in_phase(api, name, "Cancelled"), what="Cancelled")
    assert run["status"]["message"] == "Cancelled by @alice."

    async def job_gone() -> bool:
        jobs = await client.BatchV1Api(api).list_namespaced_job(NAMESPACE)
        return not jobs.items

    await eventually(job_gone, what="the Job deleted")
    await eventually(lambda: _check_run(stack, "cancelled"), what="check run cancelled")

    async def says_cancelled() -> bool:
        found = bot_comments(stack, PR)
        return len(found) == 1 and "cancelled" in found[0]["body"]

    await eventually(says_cancelled, what="tracking comment cancelled")


async def test_restarting_the_controller_duplicates_nothing(live: tuple[Stack, client.ApiClient]) -> None:
    stack, api = live
    stack.default_outcome = lambda job: replace(agent_pushes_a_branch(job), run_seconds=2)
    name, comment_id = await command(stack, PR, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Running"), what="Running")
    await eventually(lambda: _check_run(stack, None, "in_progress"), what="check run in progress")
    await stack.stop_controller()
    stack.start_controller()
    await eventually(lambda: _check_run(stack, "success"), within=20, what="check run success after restart")
    await eventually(lambda: _with_url(api, name), what="PR link after restart")
    assert len(bot_comments(stack, PR)) == 1
    assert len(stack.gh.reactions(stack.scene.repo, comment_id)) == 1
    assert len(stack.gh.check_runs(stack.scene.repo)) == 1
    assert (
        len([p for p in stack.gh.pulls(stack.scene.repo) if p["head"]["ref"] == "feature/task-5-trader"]) == 1
    )


async def test_github_failures_are_retried_and_nothing_is_duplicated(
    live: tuple[Stack, client.ApiClient],
) -> None:
    stack, _api = live
    stack.gh.faults.add(
        Fault(method="POST", path_pattern=r"/repos/.*/issues/\d+/comments", status=502, times=2)
    )
    stack.gh.faults.add(
        Fault(
            method="PATCH",
            path_pattern=r"/repos/.*/issues/comments/\d+",
            secondary_rate_limit=True,
            retry_after=1,
            times=1,
        )
    )
    _name, comment_id = await command(stack, 5, "/code 5 --service trader")

    async def complete() -> dict[str, Any] | None:
        found = bot_comments(stack, 5)
        return found[0] if len(found) == 1 and "/pull/" in found[0]["body"] else None

    await eventually(complete, within=30, what="feedback complete despite faults")
    assert len(bot_comments(stack, 5)) == 1
    assert len(stack.gh.reactions(stack.scene.repo, comment_id)) == 1
    faults = [call for call in stack.gh.calls if call.fault]
    assert sorted(call.status for call in faults) == [403, 502, 502]
    assert_every_request_was_valid(stack)


async def test_help_replies_with_every_command(live: tuple[Stack, client.ApiClient]) -> None:
    stack, _ = live
    await command(stack, 5, "/help")

    async def replied() -> dict[str, Any] | None:
        found = bot_comments(stack, 5)
        return found[0] if found else None

    reply = await eventually(replied, what="help reply")
    for usage in (
        "/docs [--branch BRANCH]",
        "/code <task-id> --service SERVICE",
        "/cancel [run-name]",
        "/retry [run-name]",
    ):
        assert usage in reply["body"]


async def test_retry_comment_restarts_the_last_failed_run_with_new_instructions(
    live: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = live
    stack.default_outcome = lambda job: JobOutcome(succeeded=False, run_seconds=0.1)
    name, _ = await command(stack, 5, "/code 5 --service trader")
    await eventually(lambda: run_in_phase(api, name, "Failed"), what="Failed")
    retried, _ = await command(stack, 5, "/retry use the staging database")
    runs = {run["metadata"]["name"]: run for run in await list_runs(api, "CodeRun")}
    assert runs[retried]["spec"]["contextVersion"] == 2
    assert runs[retried]["spec"]["promptModification"] == "use the staging database"


async def test_a_comment_posted_just_before_a_crash_is_found_not_posted_again() -> None:
    from bot.core.feedback import TRACKING_COMMENT_ID, run_view, tracking_marker
    from bot.github import GitHubApp
    from bot.kube import Kube, api_client
    from bot.reporter import TRACKING_COMMENT, Reporter

    async with running_stack(controller=False) as stack, api_client(stack.kube.kubeconfig_path) as api:
        name, _ = await command(stack, 5, "/code 5 --service trader")
        kube = Kube(api)
        run = await kube.get_run("CodeRun", NAMESPACE, name)
        assert run is not None
        # The previous reporter posted the comment, then died before recording its id.
        marker = tracking_marker(run_view(run))
        stack.gh.add_comment(stack.scene.repo, 5, "mallory", f"a pasted marker does not count\n{marker}")
        earlier = stack.gh.add_comment(stack.scene.repo, 5, "orchestrator-bot[bot]", f"queued\n{marker}")
        await kube.patch_run(
            "CodeRun", NAMESPACE, name, {"metadata": {"annotations": {TRACKING_COMMENT.posting_key: "true"}}}
        )
        github = GitHubApp(
            stack.session, app_id=stack.gh.app_id, private_key=stack.gh.private_key_pem, api_url=stack.gh.url
        )
        await Reporter(github, kube, NAMESPACE).report("CodeRun", name)
        run = await kube.get_run("CodeRun", NAMESPACE, name)
        assert run is not None
        assert run["metadata"]["annotations"][TRACKING_COMMENT_ID] == str(earlier["id"])
        assert TRACKING_COMMENT.posting_key not in run["metadata"]["annotations"]
        tracking = [c["id"] for c in stack.gh.comments(stack.scene.repo, 5) if c["user"]["type"] == "Bot"]
        assert tracking == [earlier["id"]]


async def test_an_agent_that_changed_nothing_and_was_refused_a_tool_says_so(
    live: tuple[Stack, client.ApiClient],
) -> None:
    """What the agent's script reports (templates/shared/agent-steps.sh.j2) reaches GitHub: no branch,
    no pull request, a neutral check run, and the refused tool named with where to fix it."""
    stack, _ = live
    result = {"commit": "0" * 40, "changed": False, "sessionId": "5f2e", "denials": {"Bash": 12}}
    stack.default_outcome = lambda job: JobOutcome(
        succeeded=True, termination_message=json.dumps(result), run_seconds=0.1
    )
    await command(stack, PR, "/code 5 --service trader", pr=True)
    check = await eventually(lambda: _check_run(stack, "neutral"), what="a neutral check run")
    assert "finished with no changes" in check["output"]["title"]
    note = "The agent was refused Bash 12\u00d7: check permissions.allow in task-controller-config."
    assert note in check["output"]["summary"]

    async def said() -> dict[str, Any] | None:
        found = bot_comments(stack, PR)
        return found[0] if found and "finished with no changes" in found[0]["body"] else None

    comment = await eventually(said, what="the tracking comment says no changes")
    assert note in comment["body"]
    assert len(bot_comments(stack, PR)) == 1
    assert not [p for p in stack.gh.pulls(stack.scene.repo) if p["head"]["ref"] == "feature/task-5-trader"]
    assert_every_request_was_valid(stack)
