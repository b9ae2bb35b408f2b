"""Sign-in with GitHub: the OAuth web flow with the App's own client id and secret (user-to-server).

- `GET /auth/login?next=/runs/...`: a fresh `state`, sealed into a cookie bound to this browser, and
  a redirect to `{GITHUB_WEB_URL}/login/oauth/authorize`;
- `GET /auth/callback?code&state`: the `state` must be the one in this browser's cookie (else 400);
  the code is exchanged at `{GITHUB_WEB_URL}/login/oauth/access_token`, `GET /user` says who it is,
  and a session is stored (the token encrypted, server-side) and set as a cookie that expires with
  the token (HttpOnly, SameSite=Lax, Secure unless the public URL is http);
- `POST /auth/logout` (with the page's form token): the stored session is deleted and the cookie cleared.

Nothing here logs a code or a token.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.store import SessionRecord
from bot.web.context import WEB_CONTEXT, WebContext, form_token_matches, viewer
from bot.web.session import (
    DEFAULT_SESSION_SECONDS,
    OAUTH_COOKIE,
    OAUTH_SECONDS,
    SESSION_COOKIE,
    new_session_id,
    new_state,
    safe_next,
    session_hash,
)

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=15)


def _set_cookie(
    context: WebContext, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=context.secure_cookies,
        samesite="Lax",
    )


async def login(request: web.Request) -> web.StreamResponse:
    context = request.app[WEB_CONTEXT]
    state = new_state()
    next_path = safe_next(request.query.get("next"))
    query = urlencode(
        {
            "client_id": context.client_id,
            "redirect_uri": context.callback_url,
            "state": state,
            "allow_signup": "false",
        }
    )
    response = web.HTTPFound(f"{context.web_url}/login/oauth/authorize?{query}")
    _set_cookie(
        context,
        response,
        OAUTH_COOKIE,
        context.sealer.seal_oauth(state, next_path, context.clock()),
        OAUTH_SECONDS,
    )
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    context = request.app[WEB_CONTEXT]
    sealed = context.sealer.open_oauth(request.cookies.get(OAUTH_COOKIE), context.clock())
    given = request.query.get("state", "")
    if sealed is None or not hmac.compare_digest(str(sealed.get("state", "")).encode(), given.encode()):
        return context.problem(
            400,
            "Sign-in could not be completed",
            "The sign-in did not start in this browser or took too long.",
        )
    if "error" in request.query or not request.query.get("code"):
        return context.problem(400, "Sign-in was not completed", "GitHub did not sign you in.")
    token = await _exchange(context, request.query["code"])
    if token is None:
        return context.problem(400, "Sign-in could not be completed", "GitHub did not accept the sign-in.")
    user = await _user(context, str(token["access_token"]))
    if user is None:
        return context.problem(502, "Sign-in could not be completed", "GitHub did not say who you are.")
    now = context.clock()
    expires_in = token.get("expires_in")
    lifetime = (
        float(expires_in) if isinstance(expires_in, int | float | str) and str(expires_in).isdigit() else None
    )
    expires_at = now + (lifetime or DEFAULT_SESSION_SECONDS)
    session_id = new_session_id()
    await context.store.put_session(
        SessionRecord(
            session_hash(session_id),
            str(user["login"]),
            int(user["id"]),
            context.sealer.seal_token(str(token["access_token"])),
            expires_at,
        )
    )
    log.info("%s signed in to the run page", user["login"])
    response = web.HTTPFound(safe_next(str(sealed.get("next", ""))))
    _set_cookie(
        context,
        response,
        SESSION_COOKIE,
        context.sealer.seal_session(session_id, str(user["login"]), expires_at, now),
        int(expires_at - now),
    )
    response.del_cookie(OAUTH_COOKIE, path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    context = request.app[WEB_CONTEXT]
    signed_in = await viewer(request)
    if signed_in is not None:
        if not await form_token_matches(request, signed_in):
            return context.problem(
                403, "The form has expired", "Sign out from a page of this site.", signed_in
            )
        await context.store.delete_session(signed_in.session_hash)
        context.access.forget(signed_in.user_id)
    response = web.HTTPFound("/runs")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def _exchange(context: WebContext, code: str) -> dict[str, Any] | None:
    """The code -> the user's token (GitHub answers 200 with an `error` field when it refuses)."""
    try:
        async with context.http.post(
            f"{context.web_url}/login/oauth/access_token",
            data={
                "client_id": context.client_id,
                "client_secret": context.client_secret,
                "code": code,
                "redirect_uri": context.callback_url,
            },
            headers={"Accept": "application/json", "User-Agent": "orchestrator-bot"},
            timeout=TIMEOUT,
        ) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("exchanging the sign-in code failed: %s", exc.__class__.__name__)
        return None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        error = body.get("error") if isinstance(body, dict) else None
        log.warning("GitHub refused the sign-in code: %s", str(error)[:100])
        return None
    return body


async def _user(context: WebContext, token: str) -> dict[str, Any] | None:
    try:
        async with context.http.get(
            f"{context.api_url}/user",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "User-Agent": "orchestrator-bot",
            },
            timeout=TIMEOUT,
        ) as response:
            if response.status != 200:
                return None
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("login"), str)
        or not isinstance(body.get("id"), int)
    ):
        return None
    return body


def add_routes(app: web.Application) -> None:
    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/auth/logout", logout)
