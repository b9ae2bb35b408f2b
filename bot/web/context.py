"""What every route of the run page shares: settings, the store, the sealer, the access cache, the
templates; and who is asking (`viewer`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import jinja2
from aiohttp import web

from bot.errors import StoreUnavailable
from bot.store import Store
from bot.web.access import RepositoryAccess
from bot.web.session import SESSION_COOKIE, Sealer, Viewer, session_hash


class ActionAnswer(Protocol):
    """What a button did: an HTTP status, the text shown, and a run to go to (a retry's)."""

    @property
    def status(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def run(self) -> str | None: ...


Act = Callable[[str, str, str, str], Awaitable[ActionAnswer]]
"""(namespace, run name, action, login) -> the answer."""


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class WebContext:
    store: Store
    sealer: Sealer
    access: RepositoryAccess
    http: aiohttp.ClientSession
    client_id: str
    client_secret: str
    public_url: str
    web_url: str
    api_url: str
    templates: jinja2.Environment = field(default_factory=template_environment)
    clock: Callable[[], float] = time.time
    live_poll_seconds: float = 1.0
    act: Act | None = None
    """The Cancel / Retry buttons: `serve`'s intake (the same checks and effects as the commands).
    None: the page shows no buttons."""

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}/auth/callback"

    def page(self, template: str, status: int = 200, **values: Any) -> web.Response:
        """A page; a signed-in `viewer`'s forms get their CSRF token (`form_token`)."""
        who = values.get("viewer")
        token = self.sealer.form_token(who.session_hash) if isinstance(who, Viewer) else ""
        html = self.templates.get_template(template).render(form_token=token, **values)
        return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")

    def problem(self, status: int, title: str, text: str, viewer: Viewer | None = None) -> web.Response:
        return self.page("problem.html.j2", status, title=title, text=text, viewer=viewer)


FORM_TOKEN_FIELD = "form_token"  # noqa: S105 - a form field's name, not a secret


async def form_token_matches(request: web.Request, who: Viewer) -> bool:
    """Whether a POST carries the signed-in person's form token (CSRF)."""
    form = await request.post()
    given = form.get(FORM_TOKEN_FIELD)
    context = request.app[WEB_CONTEXT]
    return context.sealer.form_token_matches(who.session_hash, given if isinstance(given, str) else None)


WEB_CONTEXT: web.AppKey[WebContext] = web.AppKey("web_context", WebContext)


async def viewer(request: web.Request) -> Viewer | None:
    """The signed-in person, or None (no cookie, a forged or expired one, a session signed out)."""
    context = request.app[WEB_CONTEXT]
    now = context.clock()
    opened = context.sealer.open_session(request.cookies.get(SESSION_COOKIE), now)
    if opened is None:
        return None
    hashed = session_hash(opened["sid"])
    stored = await context.store.session(hashed)
    if stored is None or stored.expires_at <= now:
        return None
    token = context.sealer.open_token(stored.token)
    if token is None:
        return None
    return Viewer(stored.login, stored.user_id, token, hashed, stored.expires_at)


def sign_in_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound("/auth/login?next=" + quote(request.rel_url.raw_path_qs, safe=""))


@web.middleware
async def store_outage(request: web.Request, handler: Any) -> web.StreamResponse:
    """The store is down: the page says so (503), the webhook and the probes are not affected."""
    try:
        response: web.StreamResponse = await handler(request)
    except StoreUnavailable:
        context = request.app[WEB_CONTEXT]
        return context.problem(
            503,
            "The run store cannot be reached",
            "Try again in a minute; progress is still shown on GitHub.",
        )
    return response


def now_seconds() -> float:
    return time.time()
