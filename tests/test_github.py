"""The GitHub edge against the local GitHub API: token and permission caches, retries, secondary
limits and write spacing — on an injected clock, so no test sleeps for real."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from gidgethub import GitHubBroken

from bot.errors import GitHubUnavailable
from bot.github import GitHubApp, RetryPolicy, github_failures, post_reply_once
from bot.sandbox.github import Fault, LocalGitHubAPI
from bot.sandbox.github.seed import DemoScene, seed_demo


@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps (or a test moves it)."""

    now: float = field(default_factory=time.time)
    """Starts at the real time: token expiry times come from the server's clock."""
    sleeps: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def gh() -> AsyncIterator[tuple[LocalGitHubAPI, DemoScene]]:
    async with LocalGitHubAPI() as server:
        yield server, seed_demo(server)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def app_for(
    gh: LocalGitHubAPI, session: aiohttp.ClientSession, clock: FakeTime, attempts: int = 5
) -> GitHubApp:
    return GitHubApp(
        session,
        app_id=gh.app_id,
        private_key=gh.private_key_pem,
        api_url=gh.url,
        policy=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=8),
        sleep=clock.sleep,
        clock=clock.time,
    )


def calls_to(gh: LocalGitHubAPI, operation: str) -> int:
    return sum(1 for call in gh.calls if call.operation_id == operation)


async def test_installation_token_is_cached_until_shortly_before_it_expires(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    app = app_for(server, session, clock)
    first = await app.installation_token(scene.installation_id)
    assert await app.installation_token(scene.installation_id) == first
    assert calls_to(server, "apps/create-installation-access-token") == 1
    clock.now += 3600  # tokens live an hour
    await app.installation_token(scene.installation_id)
    assert calls_to(server, "apps/create-installation-access-token") == 2


async def test_permission_answers_are_cached_for_a_minute(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    app = app_for(server, session, clock)
    for _ in range(3):
        answer = await app.collaborator_permission(scene.installation_id, "demo-org/trader", "alice")
        assert answer["role_name"] == "write"
    assert calls_to(server, "repos/get-collaborator-permission-level") == 1
    clock.now += 61
    server.set_permission(scene.repo, "alice", "read")
    answer = await app.collaborator_permission(scene.installation_id, "demo-org/trader", "alice")
    assert answer["role_name"] == "read"
    assert calls_to(server, "repos/get-collaborator-permission-level") == 2


async def test_server_errors_are_retried_with_backoff(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    client = await app_for(server, session, clock).installation_client(scene.installation_id)
    server.faults.add(
        Fault(method="GET", path_pattern=r"/repos/demo-org/trader/issues/5", status=502, times=2)
    )
    issue = await client.getitem("/repos/demo-org/trader/issues/5")
    assert issue["number"] == 5
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[1] <= 1.0


async def test_github_that_keeps_failing_becomes_unavailable(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    client = await app_for(server, session, clock, attempts=3).installation_client(scene.installation_id)
    server.faults.add(Fault(method="GET", path_pattern=r"/repos/demo-org/trader/issues/5", status=503))
    with pytest.raises(GitHubBroken):
        await client.getitem("/repos/demo-org/trader/issues/5")
    with pytest.raises(GitHubUnavailable), github_failures("reading an issue"):
        await client.getitem("/repos/demo-org/trader/issues/5")
    assert len(clock.sleeps) == 4  # two retries per call


async def test_secondary_limit_honours_retry_after_and_spaces_later_writes(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    client = await app_for(server, session, clock).installation_client(scene.installation_id)
    server.faults.add(
        Fault(
            method="POST",
            path_pattern=r"/repos/.*/issues/5/comments",
            secondary_rate_limit=True,
            retry_after=7,
            times=1,
        )
    )
    await client.post("/repos/demo-org/trader/issues/5/comments", data={"body": "first"})
    assert clock.sleeps == [7.0]
    await client.post("/repos/demo-org/trader/issues/5/comments", data={"body": "second"})
    await client.post("/repos/demo-org/trader/issues/5/comments", data={"body": "third"})
    # After a secondary limit, writes to the installation go at least a second apart.
    assert clock.sleeps == [7.0, 1.0, 1.0]
    bodies = [c["body"] for c in server.comments(scene.repo, 5)]
    assert bodies[-3:] == ["first", "second", "third"]


async def test_writes_are_not_slowed_without_a_limit(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    clock = FakeTime()
    client = await app_for(server, session, clock).installation_client(scene.installation_id)
    for text in ("a", "b", "c"):
        await client.post("/repos/demo-org/trader/issues/5/comments", data={"body": text})
    assert clock.sleeps == []


async def test_unreachable_github_is_unavailable_after_retries(session: aiohttp.ClientSession) -> None:
    clock = FakeTime()
    async with LocalGitHubAPI() as server:
        url, key, app_id = server.url, server.private_key_pem, server.app_id
    app = GitHubApp(
        session,
        app_id=app_id,
        private_key=key,
        api_url=url,
        policy=RetryPolicy(attempts=3),
        sleep=clock.sleep,
        clock=clock.time,
    )
    with pytest.raises(GitHubUnavailable):
        await app.installation_token(1)
    assert len(clock.sleeps) == 2


async def test_a_reply_is_posted_once_per_marker(
    gh: tuple[LocalGitHubAPI, DemoScene], session: aiohttp.ClientSession
) -> None:
    server, scene = gh
    client = await app_for(server, session, FakeTime()).installation_client(scene.installation_id)
    assert await post_reply_once(client, "demo-org/trader", 5, "@bob no", "comment-1")
    assert not await post_reply_once(client, "demo-org/trader", 5, "@bob no", "comment-1")
    assert [c["body"].split("\n")[0] for c in server.comments(scene.repo, 5)] == ["@bob no"]
