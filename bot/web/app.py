"""Mounts the run page on `serve`'s application (when the store and sign-in are configured)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.store import Store
from bot.web import auth, pages
from bot.web.access import RepositoryAccess
from bot.web.context import WEB_CONTEXT, WebContext, store_outage
from bot.web.security import security_headers
from bot.web.session import Sealer


def static_dir() -> Path:
    """The page's CSS and script, shipped in the package (`bot/web/static`)."""
    return Path(str(resources.files("bot.web") / "static"))


def web_context(settings: Settings, store: Store, http: aiohttp.ClientSession) -> WebContext:
    web_settings = settings.web
    if not (web_settings.client_id and web_settings.client_secret and web_settings.session_secret):
        raise ValueError(
            "the run page needs GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and ORCHESTRATOR_SESSION_SECRET"
        )
    if web_settings.public_base is None:
        raise ValueError("the run page needs ORCHESTRATOR_PUBLIC_URL")
    return WebContext(
        store=store,
        sealer=Sealer(web_settings.session_secret.get_secret_value()),
        access=RepositoryAccess(http, settings.github.api_base),
        http=http,
        client_id=web_settings.client_id,
        client_secret=web_settings.client_secret.get_secret_value(),
        public_url=web_settings.public_base,
        web_url=web_settings.web_base,
        api_url=settings.github.api_base,
    )


def add_run_pages(app: web.Application, context: WebContext) -> None:
    app[WEB_CONTEXT] = context
    app.middlewares.append(security_headers)
    app.middlewares.append(store_outage)
    auth.add_routes(app)
    pages.add_routes(app, context)
    app.router.add_get("/", pages.index)
    app.router.add_static("/static/", static_dir(), append_version=False)
