"""The GitHub edge: App authentication, installation tokens, retries and rate limits, over gidgethub.

gidgethub does the HTTP work, signs the App JWT (`app_id` + `private_key`) and reports rate limits; this
module adds what a busy App needs on top, through gidgethub's own hooks:
- installation tokens cached per installation until shortly before they expire;
- retries with backoff on 5xx, on network errors and on secondary rate limits (403/429), honouring
  `retry-after` (`handle_rate_limit_error`);
- writes to one installation serialized, and spaced ≥ 1 s apart for a while after a secondary limit,
  as GitHub asks of integrations (`_request`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from gidgethub import BadRequest, GitHubBroken, HTTPException, RateLimitExceeded
from gidgethub.aiohttp import GitHubAPI

from bot.errors import GitHubUnavailable

log = logging.getLogger(__name__)

USER_AGENT = "orchestrator-bot"
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_TOKEN_REFRESH_MARGIN_SECONDS = 300
_WRITE_SPACING_SECONDS = 1.0
_SLOW_WRITES_AFTER_LIMIT_SECONDS = 60.0
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again (5xx, network errors, secondary limits)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter, for the `attempt`-th failure (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class WriteGate:
    """One per installation: writes go one at a time, spaced while GitHub is pushing back."""

    clock: Clock
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_write: float = float("-inf")
    slow_until: float = float("-inf")

    def secondary_limit_hit(self) -> None:
        self.slow_until = self.clock() + _SLOW_WRITES_AFTER_LIMIT_SECONDS

    def wait_before_write(self) -> float:
        if self.clock() >= self.slow_until:
            return 0.0
        return max(0.0, self.last_write + _WRITE_SPACING_SECONDS - self.clock())


def retry_after_seconds(headers: Mapping[str, str], clock: Clock = time.time) -> float | None:
    """GitHub's `retry-after` (seconds), else the wait until `x-ratelimit-reset` when no calls remain."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - clock())
        except ValueError:
            return None
    return None


def is_secondary_limit(exc: HTTPException) -> bool:
    if exc.status_code not in (403, 429):
        return False
    message = " ".join(str(arg) for arg in exc.args).lower()
    return "retry-after" in exc.headers or "secondary rate limit" in message or exc.status_code == 429


class GitHubClient(GitHubAPI):
    """gidgethub's aiohttp client with our retry policy and write gate; one per installation (or the App)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        oauth_token: str | None = None,
        app_id: str | None = None,
        private_key: str | None = None,
        policy: RetryPolicy,
        gate: WriteGate | None,
        sleep: Sleep,
    ) -> None:
        super().__init__(
            session,
            USER_AGENT,
            oauth_token=oauth_token,
            app_id=app_id,
            private_key=private_key,
            base_url=base_url,
        )
        self._policy = policy
        self._gate = gate
        self._sleep = sleep

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        secondary = is_secondary_limit(exception)
        if not (secondary or isinstance(exception, GitHubBroken)) or attempt >= self._policy.attempts:
            return False
        if secondary and self._gate is not None:
            self._gate.secondary_limit_hit()
        wait = retry_after_seconds(exception.headers) if secondary else None
        delay = wait if wait is not None else self._policy.delay(attempt)
        log.warning(
            "GitHub answered %s to %s %s; retrying in %.1f s (attempt %d)",
            exception.status_code.value,
            method,
            url,
            delay,
            attempt,
        )
        await self.sleep(delay)
        return True

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        if self._gate is None or method not in _WRITE_METHODS:
            return await self._request_with_network_retries(method, url, headers, body)
        async with self._gate.lock:
            wait = self._gate.wait_before_write()
            if wait > 0:
                await self.sleep(wait)
            try:
                return await self._request_with_network_retries(method, url, headers, body)
            finally:
                self._gate.last_write = self._gate.clock()

    async def _request_with_network_retries(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        for attempt in range(1, self._policy.attempts + 1):
            try:
                return await super()._request(method, url, headers, body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == self._policy.attempts:
                    raise GitHubUnavailable(f"{method} {url}: {exc.__class__.__name__}") from None
                await self.sleep(self._policy.delay(attempt))
        raise AssertionError("unreachable")


@dataclass
class _CachedToken:
    token: str
    refresh_at: float


@dataclass
class _CachedRole:
    role: str
    expires_at: float


class GitHubApp:
    """The App's view of GitHub: an App-authenticated client and per-installation clients."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: int,
        private_key: str,
        api_url: str,
        policy: RetryPolicy | None = None,
        permission_cache_seconds: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        self._session = session
        self._app_id = str(app_id)
        self._private_key = private_key
        self._api_url = api_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._permission_ttl = permission_cache_seconds
        self._tokens: dict[int, _CachedToken] = {}
        self._token_locks: dict[int, asyncio.Lock] = {}
        self._gates: dict[int, WriteGate] = {}
        self._roles: dict[tuple[int, str, str], _CachedRole] = {}

    @property
    def app_id(self) -> str:
        return self._app_id

    def app_client(self, policy: RetryPolicy | None = None) -> GitHubClient:
        """Authenticated as the App itself (JWT), for /app/* endpoints."""
        return GitHubClient(
            self._session,
            base_url=self._api_url,
            app_id=self._app_id,
            private_key=self._private_key,
            policy=policy or self._policy,
            gate=None,
            sleep=self._sleep,
        )

    async def installation_token(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        lock = self._token_locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.token
            answer = await self.app_client().post(
                "/app/installations/{installation_id}/access_tokens",
                url_vars={"installation_id": str(installation_id)},
                data=b"",
            )
            expires_at = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")).timestamp()
            self._tokens[installation_id] = _CachedToken(
                answer["token"], expires_at - _TOKEN_REFRESH_MARGIN_SECONDS
            )
            return str(answer["token"])

    async def installation_client(self, installation_id: int) -> GitHubClient:
        token = await self.installation_token(installation_id)
        gate = self._gates.setdefault(installation_id, WriteGate(self._clock))
        return GitHubClient(
            self._session,
            base_url=self._api_url,
            oauth_token=token,
            policy=self._policy,
            gate=gate,
            sleep=self._sleep,
        )

    async def collaborator_permission(
        self, installation_id: int, repository: str, login: str
    ) -> dict[str, Any]:
        """GitHub's permission answer for `login` on `repository`, through the cache (~60 s)."""
        key = (installation_id, repository.lower(), login.lower())
        cached = self._roles.get(key)
        if cached is not None and self._clock() < cached.expires_at:
            return {"role_name": cached.role, "permission": cached.role}
        client = await self.installation_client(installation_id)
        owner, name = repository.split("/", 1)
        try:
            answer: dict[str, Any] = await client.getitem(
                "/repos/{owner}/{repo}/collaborators/{username}/permission",
                url_vars={"owner": owner, "repo": name, "username": login},
            )
        except BadRequest as exc:
            if exc.status_code.value != 404:
                raise
            # Not a collaborator (GitHub answers 404 for outsiders on some plans).
            answer = {"permission": "none", "role_name": "none"}
        role = str(answer.get("role_name") or answer.get("permission") or "none")
        self._roles[key] = _CachedRole(role, self._clock() + self._permission_ttl)
        return answer


@contextmanager
def github_failures(doing: str) -> Iterator[None]:
    """Turns GitHub's "try again later" answers (after the retries) into `GitHubUnavailable`."""
    try:
        yield
    except HTTPException as exc:
        exhausted = isinstance(exc, GitHubBroken | RateLimitExceeded) or is_secondary_limit(exc)
        if exhausted:
            raise GitHubUnavailable(f"GitHub kept failing while {doing}: {exc.status_code.value}") from None
        raise


def reply_marker(key: str) -> str:
    """A hidden marker that lets a reply be found again, so a redelivery never posts it twice."""
    return f"<!-- orchestrator-reply: {key} -->"


async def post_reply_once(
    client: GitHubClient, repository: str, issue_number: int, body: str, marker_key: str
) -> bool:
    """Post `body` on the issue unless a reply with the same marker is already there."""
    owner, name = repository.split("/", 1)
    url_vars = {"owner": owner, "repo": name, "issue_number": str(issue_number)}
    marker = reply_marker(marker_key)
    with github_failures(f"replying on {repository}#{issue_number}"):
        async for comment in client.getiter("/repos/{owner}/{repo}/issues/{issue_number}/comments", url_vars):
            # Only the App's own comments count: anyone can paste a marker into theirs.
            if (comment.get("user") or {}).get("type") == "Bot" and marker in (comment.get("body") or ""):
                return False
        await client.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            url_vars=url_vars,
            data={"body": f"{body}\n\n{marker}"},
        )
    return True
