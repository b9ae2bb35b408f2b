"""Review -> revise (issue 16): a run's pull request, reviewed, continued by a new run on its branch;
`/code --continue` on it; and every case that must start nothing. serve and the controller run
against the local Kubernetes and GitHub APIs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from bot.sandbox.stack import Stack, running_stack

from .conftest import api_client_for, eventually, list_runs

REVIEW_BODY = "The rounding is right now, but the edge cases are untested."
INLINE = [
    ("services/trader/src/orders.py", 12, "Use Decimal here."),
    ("services/trader/tests/test_orders.py", 3, "Add a case for 0.005."),
]


@pytest.fixture
async def reviewed() -> AsyncIterator[tuple[Stack, client.ApiClient, int, dict[str, Any]]]:
    """A `/code` run that ended in a pull request the bot opened."""
    async with (
        running_stack(controller=True, task_settings={"iterateOnReviews": True}) as stack,
        await api_client_for(stack) as api,
    ):
        status, answer = await stack.send(
            "issue_comment", stack.comment_payload(5, "alice", "/code 5 --service trader")
        )
        assert status == 200, answer
        name = json.loads(answer)["done"][0].split()[-1]

        async def with_pull_request() -> dict[str, Any] | None:
            for run in await list_runs(api, "CodeRun"):
                if run["metadata"]["name"] == name and (run.get("status") or {}).get("pullRequestUrl"):
                    return run
            return None

        run = await eventually(with_pull_request, what="the run's pull request")
        number = int(run["status"]["pullRequestUrl"].rsplit("/", 1)[1])
        yield stack, api, number, run


async def code_runs(api: client.ApiClient) -> dict[str, dict[str, Any]]:
    return {run["metadata"]["name"]: run for run in await list_runs(api, "CodeRun")}


async def send_review(
    stack: Stack,
    number: int,
    user: str,
    state: str,
    body: str = REVIEW_BODY,
    inline: list[tuple[str, int, str]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    review, comments = stack.review_payloads(
        number, user, state, body, inline if inline is not None else INLINE
    )
    status, answer = await stack.send("pull_request_review", review)
    assert status == 200, answer
    for comment in comments:
        status, answer = await stack.send("pull_request_review_comment", comment)
        assert status == 200, answer
    return review, comments


def open_pulls_for(stack: Stack, branch: str) -> list[dict[str, Any]]:
    return [
        p for p in stack.gh.pulls(stack.scene.repo) if p["head"]["ref"] == branch and p["state"] == "open"
    ]


async def test_a_review_continues_the_run_on_its_branch_and_continue_continues_it_again(
    reviewed: tuple[Stack, client.ApiClient, int, dict[str, Any]],
) -> None:
    stack, api, number, first = reviewed
    branch = first["status"]["branch"]
    before = set(await code_runs(api))
    review, _ = await send_review(stack, number, "carol", "changes_requested")

    async def continuation() -> dict[str, Any] | None:
        new = [run for name, run in (await code_runs(api)).items() if name not in before]
        return new[0] if new else None

    run = await eventually(continuation, what="the continuation")
    spec = run["spec"]
    assert (spec["continueSession"], spec["contextVersion"], spec["branch"], spec["workBranch"]) == (
        True,
        2,
        branch,
        branch,
    )
    assert (spec["taskId"], spec["service"], spec["githubUser"]) == (5, "trader", "carol")
    prompt = spec["promptModification"]
    assert REVIEW_BODY in prompt
    assert "- services/trader/src/orders.py:12: Use Decimal here." in prompt
    assert "- services/trader/tests/test_orders.py:3: Add a case for 0.005." in prompt
    assert run["metadata"]["annotations"]["orchestrator.platform/continues"] == first["metadata"]["name"]
    assert len(await code_runs(api)) == len(before) + 1  # the inline comments started nothing more

    async def done() -> dict[str, Any] | None:
        found = (await code_runs(api))[run["metadata"]["name"]]
        return found if (found.get("status") or {}).get("phase") == "Succeeded" else None

    finished = await eventually(done, what="the continuation succeeded")
    assert len(open_pulls_for(stack, branch)) == 1  # the same pull request, no second one
    new_head = finished["status"]["commit"]
    assert stack.gh.branch_sha(stack.scene.repo, branch) == new_head

    async def on_new_head() -> list[dict[str, Any]] | None:
        checks = [
            c
            for c in stack.gh.check_runs(stack.scene.repo)
            if c["head_sha"] == new_head and c["external_id"] == run["metadata"]["name"]
        ]
        return checks if checks and checks[0]["conclusion"] == "success" else None

    await eventually(on_new_head, what="the continuation's check run on the pull request's new head")

    async def tracking() -> dict[str, Any] | None:
        for comment in stack.gh.comments(stack.scene.repo, number):
            if f"orchestrator-run: orchestrator/{run['metadata']['name']}" in comment["body"]:
                return comment if "| Continues |" in comment["body"] else None
        return None

    assert first["metadata"]["name"] in (await eventually(tracking, what="its tracking comment"))["body"]

    # The same review delivered again starts nothing new.
    assert (await stack.send("pull_request_review", review))[0] == 200
    assert len(await code_runs(api)) == len(before) + 1

    # `/code --continue` on the pull request: contextVersion 3.
    status, answer = await stack.send(
        "issue_comment",
        stack.comment_payload(number, "alice", "/code --continue add tests", on_pull_request=True),
    )
    assert status == 200, answer
    third = json.loads(answer)["done"][0].split()[-1]
    runs = await code_runs(api)
    assert runs[third]["spec"]["contextVersion"] == 3
    assert runs[third]["spec"]["promptModification"] == "add tests"


async def test_continue_on_a_pull_request_no_run_produced_gets_one_reply(
    reviewed: tuple[Stack, client.ApiClient, int, dict[str, Any]],
) -> None:
    stack, api, _, _ = reviewed
    before = set(await code_runs(api))
    payload = stack.comment_payload(7, "alice", "/code --continue add tests", on_pull_request=True)
    status, answer = await stack.send("issue_comment", payload)
    assert status == 200, answer

    async def replied() -> list[dict[str, Any]] | None:
        found = [c for c in stack.gh.comments(stack.scene.repo, 7) if c["user"]["type"] == "Bot"]
        return found or None

    [reply] = await eventually(replied, what="the reply")
    assert "no run of mine produced this pull request" in reply["body"]
    assert set(await code_runs(api)) == before


@pytest.mark.parametrize(
    ("user", "state", "replies"),
    [
        pytest.param("bob", "changes_requested", True, id="a reader's review: told why"),
        pytest.param("orchestrator-bot[bot]", "changes_requested", False, id="a bot's review"),
        pytest.param("carol", "approved", False, id="an approval"),
        pytest.param("carol", "commented", False, id="a comment-only review"),
    ],
)
async def test_reviews_that_start_nothing(
    reviewed: tuple[Stack, client.ApiClient, int, dict[str, Any]], user: str, state: str, replies: bool
) -> None:
    stack, api, number, _ = reviewed
    before = set(await code_runs(api))
    bot_comments = len([c for c in stack.gh.comments(stack.scene.repo, number) if c["user"]["type"] == "Bot"])
    await send_review(stack, number, user, state)
    if replies:

        async def told() -> bool:
            now = [c for c in stack.gh.comments(stack.scene.repo, number) if c["user"]["type"] == "Bot"]
            return len(now) == bot_comments + 1 and "write" in now[-1]["body"]

        await eventually(told, what="the reply saying why")
    assert set(await code_runs(api)) == before


async def test_without_iterate_on_reviews_a_review_starts_nothing() -> None:
    async with running_stack(controller=False) as stack, await api_client_for(stack) as api:
        stack.gh.push_branch(stack.scene.repo, "feature/order-book")
        await send_review(stack, 7, "carol", "changes_requested")
        assert await list_runs(api, "CodeRun") == []


# --- a docs run's pull request -----------------------------------------------------------------------


async def docs_runs(api: client.ApiClient) -> dict[str, dict[str, Any]]:
    return {run["metadata"]["name"]: run for run in await list_runs(api, "DocsRun")}


async def comment(stack: Stack, number: int, body: str, user: str = "alice") -> str:
    status, answer = await stack.send(
        "issue_comment", stack.comment_payload(number, user, body, on_pull_request=True)
    )
    assert status == 200, answer
    return str(json.loads(answer)["done"][0])


async def succeeded(api: client.ApiClient, name: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        found = (await docs_runs(api)).get(name)
        return found if found and (found.get("status") or {}).get("phase") == "Succeeded" else None

    return await eventually(done, what=f"{name} succeeded")


async def test_a_docs_pull_request_is_continued_on_its_branch_by_docs_and_by_a_review() -> None:
    async with (
        running_stack(controller=True, task_settings={"iterateOnReviews": True}) as stack,
        await api_client_for(stack) as api,
    ):
        status, answer = await stack.send("issue_comment", stack.comment_payload(5, "alice", "/docs"))
        assert status == 200, answer
        first = json.loads(answer)["done"][0].split()[-1]

        async def with_pull_request() -> dict[str, Any] | None:
            run = (await docs_runs(api)).get(first)
            return run if run and (run.get("status") or {}).get("pullRequestUrl") else None

        opened = await eventually(with_pull_request, what="the docs run's pull request")
        branch = opened["status"]["branch"]
        assert branch == f"docs/{first}"
        number = int(opened["status"]["pullRequestUrl"].rsplit("/", 1)[1])

        # `/docs --continue ...` on it: the same branch, what to do, no second pull request.
        done = await comment(stack, number, "/docs --continue document the retry settings too")
        second = done.split()[-1]
        run = (await docs_runs(api))[second]
        assert (run["spec"]["sourceBranch"], run["spec"]["workBranch"]) == (branch, branch)
        assert run["spec"]["promptModification"] == "document the retry settings too"
        assert run["metadata"]["annotations"]["orchestrator.platform/continues"] == first
        assert run["metadata"]["annotations"]["orchestrator.platform/attempt"] == "2"
        finished = await succeeded(api, second)
        assert finished["status"]["branch"] == branch
        assert stack.gh.branch_sha(stack.scene.repo, branch) == finished["status"]["commit"]
        assert len(open_pulls_for(stack, branch)) == 1

        async def on_new_head() -> list[dict[str, Any]] | None:
            checks = [
                c
                for c in stack.gh.check_runs(stack.scene.repo)
                if c["head_sha"] == finished["status"]["commit"] and c["external_id"] == second
            ]
            return checks if checks and checks[0]["conclusion"] == "success" else None

        await eventually(on_new_head, what="the check run on the pull request's new head")

        # A review requesting changes continues it again, with the review as what to do.
        before = set(await docs_runs(api))
        await send_review(stack, number, "carol", "changes_requested")

        async def continuation() -> dict[str, Any] | None:
            new = [run for name, run in (await docs_runs(api)).items() if name not in before]
            return new[0] if new else None

        third = await eventually(continuation, what="the review's continuation")
        prompt = third["spec"]["promptModification"]
        assert REVIEW_BODY in prompt and "- services/trader/src/orders.py:12: Use Decimal here." in prompt
        assert third["spec"]["workBranch"] == branch and third["spec"]["githubUser"] == "carol"
        assert third["metadata"]["annotations"]["orchestrator.platform/continues"] == second
        assert await list_runs(api, "CodeRun") == []  # a docs pull request is continued by a docs run
        await succeeded(api, third["metadata"]["name"])

        # A bare `/docs` on it continues it too; `/code --continue` is told to use `/docs --continue`.
        bare = (await comment(stack, number, "/docs")).split()[-1]
        assert (await docs_runs(api))[bare]["metadata"]["annotations"]["orchestrator.platform/attempt"] == "4"
        await succeeded(api, bare)
        assert len(open_pulls_for(stack, branch)) == 1
        assert (
            await comment(stack, number, "/code --continue add tests")
            == "no code run produced this pull request"
        )

        async def told() -> dict[str, Any] | None:
            for found in stack.gh.comments(stack.scene.repo, number):
                if "not a code run: `/docs --continue` continues it" in found["body"]:
                    return found
            return None

        await eventually(told, what="the reply naming /docs --continue")
        assert await list_runs(api, "CodeRun") == []
