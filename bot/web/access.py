"""Who may read which repository: asked of GitHub with the person's own token, cached briefly.

`GET /repos/{owner}/{repo}` with a user-to-server token answers 200 only for a repository both the
person and the App can see (GitHub: "a user access token can only access resources that both the user
and app can access"); 404 otherwise, also for a private repository they cannot see. A 401 means the
token is no longer good: the person signs in again. Answers are kept `CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from urllib.parse import quote

import aiohttp

CACHE_SECONDS = 60.0
CACHE_ENTRIES = 10_000
CONCURRENT_CHECKS = 8
TIMEOUT_SECONDS = 10.0
REPOSITORY_PATH = "/repos/{owner}/{repo}"


class SignInAgain(Exception):
    """GitHub refused the person's token (expired or revoked)."""


class GitHubUnreachable(Exception):
    """GitHub could not be asked; the page says so (503)."""


class RepositoryAccess:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: OrderedDict[tuple[int, str], tuple[bool, float]] = OrderedDict()
        self.asked = 0
        """Requests made to GitHub (the cache's misses)."""

    async def can_read(self, user_id: int, token: str, repository: str) -> bool:
        key = (user_id, repository.lower())
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        allowed = await self._ask(token, repository)
        self._cache[key] = (allowed, now + self.cache_seconds)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return allowed

    async def readable(self, user_id: int, token: str, repositories: Iterable[str]) -> list[str]:
        """The repositories of `repositories` the person may read."""
        limit = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def check(repository: str) -> str | None:
            async with limit:
                return repository if await self.can_read(user_id, token, repository) else None

        found = await asyncio.gather(*(check(repository) for repository in repositories))
        return [repository for repository in found if repository is not None]

    def forget(self, user_id: int) -> None:
        for key in [key for key in self._cache if key[0] == user_id]:
            del self._cache[key]

    async def _ask(self, token: str, repository: str) -> bool:
        owner, _, name = repository.partition("/")
        url = self.api_url + REPOSITORY_PATH.format(owner=quote(owner, safe=""), repo=quote(name, safe=""))
        self.asked += 1
        try:
            async with self.session.get(
                url,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                    "User-Agent": "orchestrator-bot",
                },
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            ) as response:
                if response.status == 401:
                    raise SignInAgain()
                if response.status in (403, 404):
                    return False
                if response.status != 200:
                    raise GitHubUnreachable(f"GitHub answered {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GitHubUnreachable(f"{exc.__class__.__name__}") from exc
        permissions = body.get("permissions") if isinstance(body, dict) else None
        return not isinstance(permissions, dict) or permissions.get("pull") is not False
