"""Comments, reactions, issues, pull requests and check runs, through gidgethub over HTTP: what the local
GitHub API accepts, what it refuses (with GitHub's answers) and what it records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from gidgethub import BadRequest, InvalidField, ValidationError, apps
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox.github import SERVED_OPERATIONS, LocalGitHubAPI
from tests.sandbox.github_fixtures import github_client, installation_token, local_github

TRADER = "/repos/demo-org/trader"


@pytest.fixture
async def gh() -> AsyncIterator[LocalGitHubAPI]:
    async with local_github() as server:
        yield server


@pytest.fixture
async def api(gh: LocalGitHubAPI) -> AsyncIterator[GitHubAPI]:
    async with github_client(gh) as client:
        yield client


@pytest.fixture
async def token(api: GitHubAPI, gh: LocalGitHubAPI) -> str:
    return await installation_token(api, gh)


def check_run(head_sha: str, **fields: Any) -> dict[str, Any]:
    return {"name": "orchestrator / code task-5 (trader)", "head_sha": head_sha, **fields}


def action(label: str = "Cancel", identifier: str = "cancel") -> dict[str, str]:
    return {"label": label, "description": "Stop the run", "identifier": identifier}


# --- comments -----------------------------------------------------------------------------------------


async def test_comment_is_created_updated_and_listed(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    created = await api.post(f"{TRADER}/issues/5/comments", data={"body": "queued"}, oauth_token=token)
    assert created["user"]["login"] == "orchestrator-bot[bot]"
    assert created["user"]["type"] == "Bot"
    assert created["html_url"].endswith(f"/demo-org/trader/issues/5#issuecomment-{created['id']}")
    assert created["performed_via_github_app"]["id"] == gh.app_id
    updated = await api.patch(created["url"], data={"body": "running"}, oauth_token=token)
    assert (updated["id"], updated["body"]) == (created["id"], "running")
    listed = [c async for c in api.getiter(f"{TRADER}/issues/5/comments", oauth_token=token)]
    assert [c["body"] for c in listed] == ["running"]
    assert [c["body"] for c in gh.comments("demo-org/trader", 5)] == ["running"]
    assert gh.response_problems() == []


async def test_comment_listing_pages_with_link_headers(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    for number in range(5):
        gh.add_comment("demo-org/trader", 5, "alice", f"comment {number}")
    listed = [
        c["body"] async for c in api.getiter(f"{TRADER}/issues/5/comments?per_page=2", oauth_token=token)
    ]
    assert listed == [f"comment {n}" for n in range(5)]
    assert [c.query.get("page") for c in gh.calls[-3:]] == [None, "2", "3"]


async def test_comment_without_body_is_invalid(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    with pytest.raises(InvalidField) as caught:
        await api.post(f"{TRADER}/issues/5/comments", data={}, oauth_token=token)
    assert caught.value.status_code == 422
    assert str(caught.value) == 'Invalid request.\n\n"body" wasn\'t supplied.'
    assert gh.calls[-1].validated is False
    assert gh.comments("demo-org/trader", 5) == []


async def test_comment_with_a_number_as_body_is_invalid(api: GitHubAPI, token: str) -> None:
    with pytest.raises(InvalidField, match="For 'body', 5 is not of type 'string'"):
        await api.post(f"{TRADER}/issues/5/comments", data={"body": 5}, oauth_token=token)


async def test_comment_longer_than_githubs_limit_is_refused(api: GitHubAPI, token: str) -> None:
    with pytest.raises(ValidationError, match="body is too long"):
        await api.post(f"{TRADER}/issues/5/comments", data={"body": "x" * 65537}, oauth_token=token)


async def test_comment_on_a_missing_issue_is_not_found(api: GitHubAPI, token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await api.post(f"{TRADER}/issues/404/comments", data={"body": "hi"}, oauth_token=token)
    assert caught.value.status_code == 404


async def test_comment_made_by_a_person_is_real_shaped(gh: LocalGitHubAPI) -> None:
    comment = gh.add_comment("demo-org/trader", 7, "alice", "/docs")
    assert comment["html_url"].endswith(f"/demo-org/trader/pull/7#issuecomment-{comment['id']}")
    assert (comment["user"]["login"], comment["author_association"]) == ("alice", "COLLABORATOR")


# --- reactions ----------------------------------------------------------------------------------------


async def test_same_reaction_twice_answers_the_existing_one(gh: LocalGitHubAPI, token: str) -> None:
    comment = gh.add_comment("demo-org/trader", 5, "alice", "/code 5 --service trader")
    url = f"{gh.url}{TRADER}/issues/comments/{comment['id']}/reactions"
    statuses, bodies = [], []
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(
                url, json={"content": "eyes"}, headers={"Authorization": f"token {token}"}
            ) as r:
                statuses.append(r.status)
                bodies.append(await r.json())
    assert statuses == [201, 200]
    assert bodies[0] == bodies[1]
    assert [r["content"] for r in gh.reactions("demo-org/trader", comment["id"])] == ["eyes"]


async def test_reaction_through_gidgethub_and_its_rollup(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    comment = gh.add_comment("demo-org/trader", 5, "alice", "/docs")
    reaction = await api.post(
        f"{TRADER}/issues/comments/{comment['id']}/reactions", data={"content": "eyes"}, oauth_token=token
    )
    assert (reaction["content"], reaction["user"]["login"]) == ("eyes", "orchestrator-bot[bot]")
    shown = await api.getitem(f"{TRADER}/issues/comments/{comment['id']}", oauth_token=token)
    assert (shown["reactions"]["eyes"], shown["reactions"]["total_count"]) == (1, 1)


async def test_unknown_reaction_content_is_invalid(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    comment = gh.add_comment("demo-org/trader", 5, "alice", "/docs")
    with pytest.raises(InvalidField, match="is not one of"):
        await api.post(
            f"{TRADER}/issues/comments/{comment['id']}/reactions",
            data={"content": "party"},
            oauth_token=token,
        )


# --- issues and pull requests -------------------------------------------------------------------------


async def test_issue_and_pull_request_lookups(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    issue = await api.getitem(f"{TRADER}/issues/5", oauth_token=token)
    assert ("pull_request" in issue, issue["body"]) == (False, "/code 5 --service trader")
    as_issue = await api.getitem(f"{TRADER}/issues/7", oauth_token=token)
    assert as_issue["pull_request"]["html_url"].endswith("/demo-org/trader/pull/7")
    pull = await api.getitem(f"{TRADER}/pulls/7", oauth_token=token)
    assert (pull["head"]["ref"], pull["head"]["sha"]) == (
        "feature/x",
        gh.branch_sha("demo-org/trader", "feature/x"),
    )
    assert pull["base"]["ref"] == "main"
    assert gh.response_problems() == []


async def test_pull_request_needs_a_pushed_head_branch(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    wanted = {"title": "Task 5", "head": "feature/task-5-trader", "base": "main", "body": "Done."}
    with pytest.raises(InvalidField) as caught:
        await api.post(f"{TRADER}/pulls", data=wanted, oauth_token=token)
    assert str(caught.value) == "Validation Failed for 'head'"
    sha = gh.push_branch("demo-org/trader", "feature/task-5-trader")
    pull = await api.post(f"{TRADER}/pulls", data=wanted, oauth_token=token)
    assert (pull["number"], pull["head"]["sha"], pull["state"]) == (8, sha, "open")
    assert pull["html_url"].endswith("/demo-org/trader/pull/8")
    assert [p["number"] for p in gh.pulls("demo-org/trader")] == [7, 8]


async def test_second_pull_request_for_the_same_branch_is_refused(api: GitHubAPI, token: str) -> None:
    wanted = {"title": "Again", "head": "demo-org:feature/x", "base": "main"}
    with pytest.raises(ValidationError) as caught:
        await api.post(f"{TRADER}/pulls", data=wanted, oauth_token=token)
    assert str(caught.value) == "Validation Failed: 'A pull request already exists for demo-org:feature/x.'"


async def test_pull_request_without_new_commits_is_refused(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    gh.push_branch("demo-org/trader", "same", gh.branch_sha("demo-org/trader", "main"))
    with pytest.raises(ValidationError, match="No commits between main and same"):
        await api.post(
            f"{TRADER}/pulls", data={"title": "t", "head": "same", "base": "main"}, oauth_token=token
        )


async def test_pull_requests_are_found_by_head(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    found = await api.getitem(
        f"{TRADER}/pulls{{?head,state}}", {"head": "demo-org:feature/x", "state": "all"}, oauth_token=token
    )
    assert [p["number"] for p in found] == [7]
    none = await api.getitem(f"{TRADER}/pulls{{?head}}", {"head": "demo-org:feature/none"}, oauth_token=token)
    assert none == []


async def test_branch_lookup_with_a_slash_in_the_name(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    branch = await api.getitem(f"{TRADER}/branches/{{branch}}", {"branch": "feature/x"}, oauth_token=token)
    assert branch["commit"]["sha"] == gh.branch_sha("demo-org/trader", "feature/x")
    ref = await api.getitem(f"{TRADER}/git/ref/heads/feature/x", oauth_token=token)
    assert ref["object"]["sha"] == branch["commit"]["sha"]
    with pytest.raises(BadRequest, match="Branch not found"):
        await api.getitem(f"{TRADER}/branches/missing", oauth_token=token)


# --- check runs ---------------------------------------------------------------------------------------


async def test_check_run_goes_queued_in_progress_completed(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    sha = gh.branch_sha("demo-org/trader", "feature/x") or ""
    created = await api.post(
        f"{TRADER}/check-runs", data=check_run(sha, actions=[action()]), oauth_token=token
    )
    assert (created["status"], created["conclusion"]) == ("queued", None)
    assert [p["number"] for p in created["pull_requests"]] == [7]
    url = f"{TRADER}/check-runs/{created['id']}"
    running = await api.patch(url, data={"status": "in_progress"}, oauth_token=token)
    assert running["status"] == "in_progress"
    done = await api.patch(
        url,
        data={
            "conclusion": "failure",
            "output": {"title": "Failed", "summary": "Job failed"},
            "actions": [action("Retry", "retry")],
        },
        oauth_token=token,
    )
    assert (done["status"], done["conclusion"], done["output"]["summary"]) == (
        "completed",
        "failure",
        "Job failed",
    )
    assert done["completed_at"] is not None
    [stored] = gh.check_runs("demo-org/trader")
    assert stored["actions"] == [action("Retry", "retry")]
    listed = await api.getitem(f"{TRADER}/commits/feature/x/check-runs", oauth_token=token)
    assert [run["id"] for run in listed["check_runs"]] == [created["id"]]
    assert gh.response_problems() == []


async def test_check_run_with_four_actions_is_invalid(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    sha = gh.branch_sha("demo-org/trader", "main") or ""
    actions = [action(identifier=f"a{n}") for n in range(4)]
    with pytest.raises(InvalidField, match="For 'actions', 4 items is more than the maximum of 3"):
        await api.post(f"{TRADER}/check-runs", data=check_run(sha, actions=actions), oauth_token=token)
    assert gh.check_runs("demo-org/trader") == []


async def test_check_run_action_label_over_twenty_characters_is_invalid(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    sha = gh.branch_sha("demo-org/trader", "main") or ""
    with pytest.raises(InvalidField, match=r"For 'actions/0/label', .* \(21 characters, maximum 20\)"):
        await api.post(
            f"{TRADER}/check-runs", data=check_run(sha, actions=[action("x" * 21)]), oauth_token=token
        )


async def test_check_run_needs_a_head_sha(api: GitHubAPI, token: str) -> None:
    with pytest.raises(InvalidField, match='"head_sha" wasn\'t supplied'):
        await api.post(f"{TRADER}/check-runs", data={"name": "orchestrator"}, oauth_token=token)


async def test_check_run_on_an_unknown_commit_is_refused(api: GitHubAPI, token: str) -> None:
    with pytest.raises(InvalidField, match="No commit found for SHA: " + "f" * 40):
        await api.post(f"{TRADER}/check-runs", data=check_run("f" * 40), oauth_token=token)


async def test_completed_check_run_needs_a_conclusion(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    sha = gh.branch_sha("demo-org/trader", "main") or ""
    with pytest.raises(InvalidField, match='"conclusion" wasn\'t supplied'):
        await api.post(f"{TRADER}/check-runs", data=check_run(sha, status="completed"), oauth_token=token)
    created = await api.post(f"{TRADER}/check-runs", data=check_run(sha), oauth_token=token)
    with pytest.raises(InvalidField, match='"conclusion" wasn\'t supplied'):
        await api.patch(
            f"{TRADER}/check-runs/{created['id']}", data={"status": "completed"}, oauth_token=token
        )


# --- everything else ----------------------------------------------------------------------------------


async def test_unknown_route_is_not_found(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await api.getitem(f"{TRADER}/deployments", oauth_token=token)
    assert (caught.value.status_code, str(caught.value)) == (404, "Not Found")
    assert (gh.calls[-1].operation_id, gh.calls[-1].validated) == (None, False)


async def test_malformed_json_is_a_bad_request(gh: LocalGitHubAPI, token: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gh.url}{TRADER}/issues/5/comments",
            data=b"{not json",
            headers={"Authorization": f"token {token}"},
        ) as response,
    ):
        assert (response.status, (await response.json())["message"]) == (400, "Problems parsing JSON")


async def test_every_answer_carries_rate_limit_headers(gh: LocalGitHubAPI, token: str) -> None:
    auth = {"Authorization": f"token {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{gh.url}{TRADER}/issues/5", headers=auth) as response,
    ):
        headers = response.headers
    assert headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-remaining"]) < 5000
    assert headers["x-ratelimit-resource"] == "core"
    assert {"x-ratelimit-reset", "x-ratelimit-used", "x-github-request-id"} <= {h.lower() for h in headers}


async def test_calls_record_what_was_posted(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    await api.post(f"{TRADER}/issues/5/comments", data={"body": "hello"}, oauth_token=token)
    call = gh.calls[-1]
    assert (call.method, call.path, call.operation_id, call.status) == (
        "POST",
        f"{TRADER}/issues/5/comments",
        "issues/create-comment",
        201,
    )
    assert (call.request_json, call.response_json["body"], call.validated) == (
        {"body": "hello"},
        "hello",
        True,
    )
    assert call.principal == "installation:1"
    assert "authorization" not in call.request_headers


async def test_every_served_operation_answers_inside_its_described_schema(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    jwt = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    sha = gh.branch_sha("demo-org/trader", "feature/x") or ""
    comment = gh.add_comment("demo-org/trader", 5, "alice", "/docs")
    await api.getitem("/app", jwt=jwt)
    await api.getitem("/app/installations/1", jwt=jwt)
    await api.getitem(f"{TRADER}/installation", jwt=jwt)
    await api.getitem("/app/hook/deliveries", jwt=jwt)
    await api.getitem("/rate_limit", oauth_token=token)
    await api.getitem(TRADER, oauth_token=token)
    await api.getitem(f"{TRADER}/branches/main", oauth_token=token)
    await api.getitem(f"{TRADER}/git/ref/heads/main", oauth_token=token)
    await api.getitem(f"{TRADER}/collaborators/alice/permission", oauth_token=token)
    await api.getitem(f"{TRADER}/issues/5", oauth_token=token)
    await api.getitem(f"{TRADER}/issues/5/comments", oauth_token=token)
    await api.getitem(f"{TRADER}/issues/comments/{comment['id']}", oauth_token=token)
    created = await api.post(f"{TRADER}/issues/5/comments", data={"body": "queued"}, oauth_token=token)
    await api.patch(created["url"], data={"body": "done"}, oauth_token=token)
    await api.post(
        f"{TRADER}/issues/comments/{comment['id']}/reactions", data={"content": "eyes"}, oauth_token=token
    )
    await api.getitem(f"{TRADER}/issues/comments/{comment['id']}/reactions", oauth_token=token)
    await api.getitem(f"{TRADER}/pulls/7", oauth_token=token)
    await api.getitem(f"{TRADER}/pulls", oauth_token=token)
    review, _ = gh.add_review(
        "demo-org/trader",
        7,
        "carol",
        "CHANGES_REQUESTED",
        "Please fix",
        [("a.py", 3, "why?"), ("b.py", 9, "x")],
    )
    inline = [c async for c in api.getiter(f"{TRADER}/pulls/7/reviews/{review}/comments", oauth_token=token)]
    assert [(c["path"], c["line"], c["body"], c["pull_request_review_id"]) for c in inline] == [
        ("a.py", 3, "why?", review),
        ("b.py", 9, "x", review),
    ]
    gh.push_branch("demo-org/trader", "docs/run-1")
    await api.post(
        f"{TRADER}/pulls", data={"title": "Docs", "head": "docs/run-1", "base": "main"}, oauth_token=token
    )
    run = await api.post(f"{TRADER}/check-runs", data=check_run(sha), oauth_token=token)
    await api.patch(f"{TRADER}/check-runs/{run['id']}", data={"status": "in_progress"}, oauth_token=token)
    await api.getitem(f"{TRADER}/check-runs/{run['id']}", oauth_token=token)
    await api.getitem(f"{TRADER}/commits/{sha}/check-runs", oauth_token=token)
    await api.getitem("/user", oauth_token=gh.oauth.token_for("alice"))  # a person's token (the run page)
    answered = {call.operation_id for call in gh.calls if call.status < 300}
    # The delivery log's detail and redelivery answers are checked in test_github_deliveries.py.
    assert answered == SERVED_OPERATIONS - {"apps/get-webhook-delivery", "apps/redeliver-webhook-delivery"}
    assert gh.response_problems() == []
