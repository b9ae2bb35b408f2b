"""Injected faults, as gidgethub sees them: server errors, GitHub's rate-limit answers and latency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from gidgethub import BadRequest, GitHubBroken, RateLimitExceeded
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox.github import Fault, LocalGitHubAPI
from bot.sandbox.github.faults import SECONDARY_RATE_LIMIT_DOCS
from tests.sandbox.github_fixtures import github_client, installation_token, local_github

COMMENTS = "/repos/demo-org/trader/issues/5/comments"


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


async def test_bad_gateway_twice_then_success(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    gh.faults.add(Fault(method="POST", path_pattern=r"/repos/.*/issues/\d+/comments", status=502, times=2))
    for _ in range(2):
        with pytest.raises(GitHubBroken) as caught:
            await api.post(COMMENTS, data={"body": "queued"}, oauth_token=token)
        assert caught.value.status_code == 502
    created = await api.post(COMMENTS, data={"body": "queued"}, oauth_token=token)
    assert created["body"] == "queued"
    assert [c.status for c in gh.calls[-3:]] == [502, 502, 201]
    assert [c.fault for c in gh.calls[-3:]] == [True, True, False]
    assert len(gh.comments("demo-org/trader", 5)) == 1
    assert gh.faults.pending == []


async def test_secondary_rate_limit_carries_retry_after(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    gh.faults.add(
        Fault(
            method="POST",
            path_pattern=COMMENTS,
            status=403,
            secondary_rate_limit=True,
            retry_after=1,
            times=1,
        )
    )
    with pytest.raises(BadRequest) as caught:
        await api.post(COMMENTS, data={"body": "queued"}, oauth_token=token)
    error = caught.value
    assert not isinstance(error, RateLimitExceeded)  # a secondary limit leaves the primary quota alone
    assert error.status_code == 403
    assert error.headers["retry-after"] == "1"
    assert int(error.headers["x-ratelimit-remaining"]) > 0
    assert str(error).startswith("You have exceeded a secondary rate limit.")
    assert gh.calls[-1].response_json["documentation_url"] == SECONDARY_RATE_LIMIT_DOCS
    await api.post(COMMENTS, data={"body": "queued"}, oauth_token=token)


async def test_primary_rate_limit_is_rate_limit_exceeded(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    gh.faults.add(Fault(operation_id="issues/get", primary_rate_limit=True, times=1))
    with pytest.raises(RateLimitExceeded) as caught:
        await api.getitem("/repos/demo-org/trader/issues/5", oauth_token=token)
    assert caught.value.rate_limit.remaining == 0


async def test_exhausting_the_hourly_quota_is_rate_limit_exceeded() -> None:
    async with local_github(rate_limit=3) as gh, github_client(gh) as api:
        token = gh.installation_token(1)
        for _ in range(3):
            await api.getitem("/repos/demo-org/trader", oauth_token=token)
        assert api.rate_limit is not None and api.rate_limit.remaining == 0
        with pytest.raises(RateLimitExceeded):
            await api.getitem("/repos/demo-org/trader", oauth_token=token)


async def test_latency_delays_the_answer(api: GitHubAPI, gh: LocalGitHubAPI, token: str) -> None:
    gh.faults.add(Fault(method="GET", path_pattern=r"/repos/demo-org/trader", latency=0.05, times=1))
    started = time.monotonic()
    repo = await api.getitem("/repos/demo-org/trader", oauth_token=token)
    assert time.monotonic() - started >= 0.05
    assert repo["full_name"] == "demo-org/trader"


async def test_faults_match_only_their_method_and_whole_path(
    api: GitHubAPI, gh: LocalGitHubAPI, token: str
) -> None:
    gh.faults.add(Fault(method="POST", path_pattern=r"/repos/demo-org/trader", status=500))
    await api.getitem("/repos/demo-org/trader", oauth_token=token)
    await api.post(COMMENTS, data={"body": "x"}, oauth_token=token)
    assert gh.faults.pending[0].served == 0
