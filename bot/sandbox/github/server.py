"""The local GitHub API: an aiohttp server that answers the endpoints the bot uses like GitHub does.

Every request goes through the same steps: find the operation in GitHub's OpenAPI description (404
if there is none), authenticate (App JWT or installation token), check the repository is visible to
the caller, validate path, query and JSON body against the operation (422 with GitHub's message),
apply injected faults, run the handler, check our own response against the described response schema,
and record the call. Rate-limit headers go on every answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.github.auth import (
    DOCS,
    NOT_FOUND,
    Principal,
    Refusal,
    authenticate,
    parse_authorization,
    repo_access_refusal,
)
from bot.sandbox.github.context import Call, Context, Reply, error
from bot.sandbox.github.description import Description, Match
from bot.sandbox.github.faults import PRIMARY_RATE_LIMIT_DOCS, FaultPlan
from bot.sandbox.github.oauth import HANDLERS as USER_HANDLERS
from bot.sandbox.github.oauth import OAuthFlow, user_repo_refusal
from bot.sandbox.github.routes_app import HANDLERS as APP_HANDLERS
from bot.sandbox.github.routes_issues import HANDLERS as ISSUE_HANDLERS
from bot.sandbox.github.routes_pulls import HANDLERS as PULL_HANDLERS
from bot.sandbox.github.shapes import Shapes
from bot.sandbox.github.shapes_accounts import rate_limit_overview
from bot.sandbox.github.state import DeliveryRecord, GitHubState

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
RATE_WINDOW_SECONDS = 3600
ANONYMOUS_RATE_LIMIT = 60
HANDLERS = {**APP_HANDLERS, **ISSUE_HANDLERS, **PULL_HANDLERS, **USER_HANDLERS}
SERVED_OPERATIONS = frozenset({*HANDLERS, "rate-limit/get"})


@dataclass
class _Window:
    reset: int
    used: int = 0


class RateLimits:
    """GitHub's primary rate limit per credential: `limit` requests an hour (60 for anonymous)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[str, _Window] = {}

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.reset:
            window = self._windows[key] = _Window(reset=int(now) + RATE_WINDOW_SECONDS)
        return window

    def limit_for(self, key: str) -> int:
        return ANONYMOUS_RATE_LIMIT if key == "anonymous" else self.limit

    def spend(self, key: str, now: float) -> bool:
        """Count one request; False if the limit was already reached."""
        window = self._window(key, now)
        if window.used >= self.limit_for(key):
            return False
        window.used += 1
        return True

    def headers(self, key: str, now: float, *, exhausted: bool = False) -> dict[str, str]:
        window = self._window(key, now)
        limit = self.limit_for(key)
        remaining = 0 if exhausted else max(limit - window.used, 0)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(window.reset),
            "x-ratelimit-used": str(limit - remaining),
            "x-ratelimit-resource": "core",
        }

    def overview(self, key: str, now: float) -> dict[str, Any]:
        window = self._window(key, now)
        return rate_limit_overview(self.limit_for(key), window.used, window.reset)


class GitHubHTTP:
    """The HTTP side of the local GitHub: turns aiohttp requests into handler calls and records them."""

    def __init__(
        self,
        state: GitHubState,
        description: Description,
        *,
        public_key: str,
        issuers: frozenset[str],
        web_url: str,
        rate_limit: int,
        redeliver: Callable[[DeliveryRecord], None],
    ) -> None:
        self.state = state
        self.description = description
        self.public_key = public_key
        self.issuers = issuers
        self.web_url = web_url
        self.api_url = ""
        self.faults = FaultPlan()
        self.calls: list[Call] = []
        self.rate_limits = RateLimits(rate_limit)
        self._redeliver = redeliver
        self.oauth: OAuthFlow | None = None
        """User tokens (the OAuth web flow), when the server has them."""

    @property
    def shapes(self) -> Shapes:
        return Shapes(self.state, self.api_url, self.web_url)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        path = request.rel_url.path
        query = dict(request.rel_url.query)
        request_id = _request_id()
        # Credentials are not recorded: tests assert on calls, and logs of them must not leak tokens.
        headers_seen = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
        call = Call(
            method=request.method,
            path=path,
            query=query,
            operation_id=None,
            status=0,
            request_json=None,
            response_json=None,
            validated=False,
            request_headers=headers_seen,
        )
        reply, rate_key, exhausted = await self._answer(request, raw, call, request_id)
        now = self.state.clock()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Api-Version-Selected": API_VERSION,
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": request_id,
            **self.rate_limits.headers(rate_key, now, exhausted=exhausted),
            **reply.headers,
        }
        call.status = reply.status
        call.response_json = reply.body
        self.calls.append(call)
        if reply.status == 204:
            return web.Response(status=204, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        return web.Response(status=reply.status, body=json.dumps(reply.body).encode(), headers=headers)

    async def _answer(
        self, request: web.Request, raw: bytes, call: Call, request_id: str
    ) -> tuple[Reply, str, bool]:
        """(reply, rate-limit key, whether the answer is a primary rate-limit refusal)."""
        match = self.description.match(request.method, request.rel_url.raw_path, SERVED_OPERATIONS)
        fault = self.faults.take(request.method, call.path, match.operation.operation_id if match else None)
        if fault is not None and fault.latency:
            await asyncio.sleep(fault.latency)
        if match is None:
            return error(404, NOT_FOUND, DOCS), "anonymous", False
        operation = match.operation
        call.operation_id = operation.operation_id
        now = self.state.clock()
        credential = parse_authorization(request.headers.get("Authorization"))
        as_user = self.oauth.principal(credential.value) if self.oauth and credential else None
        identity = as_user or authenticate(
            credential,
            operation.operation_id,
            tokens=self.state.tokens,
            public_key=self.public_key,
            issuers=self.issuers,
            now=now,
        )
        rate_key = identity.rate_key if isinstance(identity, Principal) else "anonymous"
        call.principal = rate_key
        body, body_problem = _decode(raw)
        call.request_json = body
        if body_problem is not None:
            return error(400, body_problem, operation.documentation_url), rate_key, False
        query, problems = self.description.query_problems(operation, call.query)
        problems += self.description.body_problems(operation, body)
        call.problems = problems
        call.validated = not problems
        if fault is not None and fault.status is not None:
            call.fault = True
            reply = Reply(fault.status, fault.response_body(request_id))
            if fault.retry_after is not None:
                reply.headers["Retry-After"] = str(fault.retry_after)
            return reply, rate_key, fault.primary_rate_limit
        if isinstance(identity, Refusal):
            return error(identity.status, identity.message, DOCS), rate_key, False
        if operation.operation_id != "rate-limit/get" and not self.rate_limits.spend(rate_key, now):
            message = "API rate limit exceeded."
            return error(403, message, PRIMARY_RATE_LIMIT_DOCS), rate_key, True
        refusal, context = self._context(identity, match, query, body, call.path)
        if refusal is not None:
            return refusal, rate_key, False
        if problems:
            message = "Invalid request.\n\n" + "\n".join(problems)
            return error(422, message, operation.documentation_url), rate_key, False
        reply = self._run(context, rate_key)
        call.response_problems = self.description.response_problems(operation, reply.status, reply.body)
        if call.response_problems:
            log.warning(
                "%s answered outside its schema: %s", operation.operation_id, call.response_problems[:3]
            )
        return reply, rate_key, False

    def _context(
        self, principal: Principal, match: Match, query: dict[str, Any], body: Any, path: str
    ) -> tuple[Reply | None, Context]:
        operation = match.operation
        params = match.path_params
        repo = None
        refusal: Reply | None = None
        if "owner" in params and "repo" in params:
            repo = self.state.repo(params["owner"], params["repo"])
            if repo is None:
                refusal = error(404, NOT_FOUND, operation.documentation_url)
            elif principal.kind == "user":
                denied_user = user_repo_refusal(principal, operation.method, repo, self.state)
                if denied_user is not None:
                    refusal = error(denied_user.status, denied_user.message, operation.documentation_url)
            else:
                denied = repo_access_refusal(
                    principal,
                    operation.operation_id,
                    operation.method,
                    repo_id=repo.id,
                    repo_installation_id=repo.installation_id,
                    private=repo.private,
                )
                if denied is not None:
                    refusal = error(denied.status, denied.message, operation.documentation_url)
        context = Context(
            state=self.state,
            shapes=self.shapes,
            principal=principal,
            operation_id=operation.operation_id,
            documentation_url=operation.documentation_url,
            path=path,
            path_params=params,
            query=query,
            body=body,
            repo=repo,
            redeliver=self._redeliver,
        )
        return refusal, context

    def _run(self, context: Context, rate_key: str) -> Reply:
        if context.operation_id == "rate-limit/get":
            return Reply(200, self.rate_limits.overview(rate_key, context.now))
        try:
            return HANDLERS[context.operation_id](context)
        except Exception:
            log.exception("local GitHub API handler %s failed", context.operation_id)
            return error(500, "Server Error", DOCS)


def _decode(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, "Problems parsing JSON"


def _request_id() -> str:
    parts = (
        secrets.token_hex(2),
        secrets.token_hex(2),
        secrets.token_hex(3),
        secrets.token_hex(3),
        secrets.token_hex(4),
    )
    return ":".join(parts).upper()
