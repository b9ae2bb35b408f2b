"""What a handler of the local GitHub API receives and returns, and the record of every call."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.github.auth import Principal
from bot.sandbox.github.shapes import Shapes
from bot.sandbox.github.state import DeliveryRecord, GitHubState, Repository

MAX_PER_PAGE = 100


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, documentation_url: str, errors: Sequence[Any] | None = None) -> Reply:
    """GitHub's error body: message, documentation_url, status (and `errors` for validation failures)."""
    body: dict[str, Any] = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    if errors is not None:
        body["errors"] = list(errors)
    return Reply(status, body)


def validation_failed(documentation_url: str, *errors: dict[str, Any]) -> Reply:
    """422 "Validation Failed" with GitHub's `errors` objects (resource, field, code, message)."""
    return error(422, "Validation Failed", documentation_url, errors)


@dataclass
class Context:
    """One authenticated, validated request, as a handler sees it."""

    state: GitHubState
    shapes: Shapes
    principal: Principal
    operation_id: str
    documentation_url: str
    path: str
    path_params: dict[str, Any]
    query: dict[str, Any]
    body: Any
    repo: Repository | None
    redeliver: Callable[[DeliveryRecord], None]

    @property
    def now(self) -> float:
        return self.state.clock()

    @property
    def actor(self) -> str:
        """The login that writes made with this credential appear as (the App's bot user)."""
        return self.state.app.bot_login

    def require_repo(self) -> Repository:
        if self.repo is None:
            raise LookupError(f"{self.operation_id} needs a repository")
        return self.repo

    def not_found(self, message: str = "Not Found") -> Reply:
        return error(404, message, self.documentation_url)

    def page(self, items: Sequence[Any]) -> Reply:
        """One page of `items` by `page`/`per_page`, with GitHub's `Link` header for the others."""
        per_page = max(1, min(int(self.query.get("per_page") or 30), MAX_PER_PAGE))
        page = max(1, int(self.query.get("page") or 1))
        last = max(1, -(-len(items) // per_page))
        reply = Reply(200, list(items[(page - 1) * per_page : page * per_page]))
        links = []
        if page < last:
            links += [(page + 1, "next"), (last, "last")]
        if page > 1:
            links += [(1, "first"), (page - 1, "prev")]
        if links:
            reply.headers["Link"] = ", ".join(
                f'<{self.link(per_page=per_page, page=number)}>; rel="{rel}"' for number, rel in links
            )
        return reply

    def link(self, **params: Any) -> str:
        query = {k: v for k, v in self.query.items() if k not in params and v is not None}
        query.update(params)
        return f"{self.shapes.api_url}{self.path}?{urlencode(query)}"


@dataclass
class Call:
    """One request the local GitHub API answered, for tests to assert on."""

    method: str
    path: str
    query: dict[str, str]
    operation_id: str | None
    status: int
    request_json: Any
    response_json: Any
    validated: bool
    problems: list[str] = field(default_factory=list)
    response_problems: list[str] = field(default_factory=list)
    principal: str = "anonymous"
    fault: bool = False
    request_headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    """When it was answered (time.monotonic), for tests of how often the bot writes."""
