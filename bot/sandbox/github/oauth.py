"""The local GitHub's sign-in: the OAuth web flow of a GitHub App (user-to-server), and user tokens.

As github.com does it (docs: "Generating a user access token for a GitHub App"):

- `GET /login/oauth/authorize?client_id&redirect_uri&state`: a page where a person signs in (here:
  chooses one of the local users) and authorizes the App; the browser is sent back to `redirect_uri`
  with `?code=...&state=...` (or `?error=access_denied&...&state=...` when they cancel). The
  `redirect_uri` must be one of the App's callback URLs (or a path under one), else the page says so.
- `POST /login/oauth/access_token` (client_id, client_secret, code, redirect_uri; form or JSON): a
  code is good once, for ten minutes. The answer is JSON when asked for, else form-encoded, and
  errors come with status 200 and an `error` field (`incorrect_client_credentials`,
  `redirect_uri_mismatch`, `bad_verification_code`). A user token is `ghu_...`, lasts eight hours and
  comes with a `ghr_...` refresh token.
- With a user token, `GET /user` is that person, and a repository is visible when both the person and
  the App can see it: a public one, or a private one the App is installed on where the person has a
  role. Writes with a user token are refused here (the bot makes none).
"""

from __future__ import annotations

import html
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.sandbox.github.auth import DOCS, NOT_ACCESSIBLE, NOT_FOUND, Principal, Refusal
from bot.sandbox.github.context import Context, Reply, error
from bot.sandbox.github.state import GitHubState, Repository

USER_TOKEN_SECONDS = 8 * 3600
REFRESH_TOKEN_SECONDS = 15_897_600
CODE_SECONDS = 600
TROUBLESHOOTING = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
)


def _random(prefix: str, length: int = 36) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class UserToken:
    """A user-to-server token: what the App may do on behalf of `login`."""

    value: str
    login: str
    expires_at: float


@dataclass(frozen=True)
class _Code:
    login: str
    redirect_uri: str
    expires_at: float


@dataclass
class OAuthFlow:
    """The App's OAuth side: its client credentials, callback URLs, codes and user tokens."""

    state: GitHubState
    client_id: str
    client_secret: str
    callback_urls: list[str] = field(default_factory=list)
    """Empty: any http(s) URL is accepted (a test or the demo sets the bot's own)."""
    user_tokens: dict[str, UserToken] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    clock: Callable[[], float] | None = None

    def now(self) -> float:
        return (self.clock or self.state.clock)()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/login/oauth/authorize", self.authorize_page)
        app.router.add_post("/login/oauth/authorize", self.authorize)
        app.router.add_post("/login/oauth/access_token", self.access_token)

    def token_for(self, login: str, lifetime: float = USER_TOKEN_SECONDS) -> str:
        """A user token without the browser (for tests of code that is given one)."""
        self.state.ensure_account(login)
        token = UserToken(_random("ghu_"), login, self.now() + lifetime)
        self.user_tokens[token.value] = token
        return token.value

    def _redirect_allowed(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if not self.callback_urls:
            return True
        for allowed in self.callback_urls:
            base = urlsplit(allowed)
            if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and parts.path.startswith(
                base.path.rstrip("/") or "/"
            ):
                return True
        return False

    # --- the browser's side ------------------------------------------------------------------------

    async def authorize_page(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != self.client_id:
            return _page("Not Found", "<p>No application with this client id.</p>", status=404)
        redirect_uri = query.get("redirect_uri", "")
        if not self._redirect_allowed(redirect_uri):
            return _page(
                "Redirect URI mismatch",
                "<p>The redirect_uri is not associated with this application.</p>",
                status=400,
            )
        users = sorted(a.login for a in self.state.accounts.values() if a.type == "User")
        chosen = query.get("login", "")
        options = "".join(
            f"<option{' selected' if login == chosen else ''}>{html.escape(login)}</option>"
            for login in users
        )
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(query.get(name, ""), quote=True)}">'
            for name in ("client_id", "redirect_uri", "state")
        )
        body = (
            f"<p>Authorize <strong>{html.escape(self.state.app.name)}</strong> to act on your behalf.</p>"
            f'<form method="post" action="/login/oauth/authorize">{hidden}'
            f'<label>Sign in as <select name="login" id="login">{options}</select></label> '
            '<button type="submit" name="decision" value="authorize" id="authorize">Authorize</button> '
            '<button type="submit" name="decision" value="cancel">Cancel</button></form>'
        )
        return _page(f"Authorize {self.state.app.name}", body)

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        redirect_uri = str(form.get("redirect_uri", ""))
        if form.get("client_id") != self.client_id or not self._redirect_allowed(redirect_uri):
            return _page("Bad request", "<p>The authorization request is not valid.</p>", status=400)
        state = str(form.get("state", ""))
        separator = "&" if "?" in redirect_uri else "?"
        login = str(form.get("login", ""))
        if form.get("decision") != "authorize" or self.state.account(login) is None:
            denied = {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
                "state": state,
            }
            raise web.HTTPFound(redirect_uri + separator + urlencode(denied))
        code = secrets.token_hex(10)
        self._codes[code] = _Code(login, redirect_uri, self.now() + CODE_SECONDS)
        raise web.HTTPFound(redirect_uri + separator + urlencode({"code": code, "state": state}))

    # --- the App's side ----------------------------------------------------------------------------

    async def access_token(self, request: web.Request) -> web.Response:
        fields: dict[str, Any]
        if request.content_type == "application/json":
            try:
                fields = dict(await request.json())
            except ValueError:
                fields = {}
        else:
            fields = {key: str(value) for key, value in (await request.post()).items()}
        answer = self._exchange(fields)
        if "json" in request.headers.get("Accept", ""):
            return web.json_response(answer)
        return web.Response(text=urlencode(answer), content_type="application/x-www-form-urlencoded")

    def _exchange(self, fields: dict[str, Any]) -> dict[str, Any]:
        if fields.get("client_id") != self.client_id or not secrets.compare_digest(
            str(fields.get("client_secret", "")), self.client_secret
        ):
            return _oauth_error(
                "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."
            )
        code = self._codes.pop(str(fields.get("code", "")), None)
        if code is None or code.expires_at <= self.now():
            return _oauth_error("bad_verification_code", "The code passed is incorrect or expired.")
        if fields.get("redirect_uri") and fields["redirect_uri"] != code.redirect_uri:
            return _oauth_error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        value = self.token_for(code.login)
        return {
            "access_token": value,
            "expires_in": USER_TOKEN_SECONDS,
            "refresh_token": _random("ghr_", 76),
            "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
            "scope": "",
            "token_type": "bearer",
        }

    # --- the API's side ----------------------------------------------------------------------------

    def principal(self, value: str) -> Principal | Refusal | None:
        """The user a token stands for; None when it is not a user token."""
        token = self.user_tokens.get(value)
        if token is None:
            return None
        if token.expires_at <= self.now():
            return Refusal(401, "Bad credentials")
        return Principal("user", login=token.login)


def _oauth_error(code: str, description: str) -> dict[str, Any]:
    return {
        "error": code,
        "error_description": description,
        "error_uri": f"{TROUBLESHOOTING}#{code.replace('_', '-')}",
    }


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(status=status, text=text, content_type="text/html")


def user_repo_refusal(
    principal: Principal, method: str, repo: Repository, state: GitHubState
) -> Refusal | None:
    """What a user token may do with a repository: read it when both the person and the App can."""
    if method not in ("GET", "HEAD"):
        return Refusal(403, NOT_ACCESSIBLE)
    if not repo.private:
        return None
    if repo.installation_id is None or state.role(repo, principal.login or "") == "none":
        return Refusal(404, NOT_FOUND)
    return None


def get_authenticated_user(ctx: Context) -> Reply:
    """`GET /user`: the person a user token stands for (their private view of themselves)."""
    if ctx.principal.kind == "anonymous":
        return error(401, "Requires authentication", DOCS)
    if ctx.principal.kind != "user" or ctx.principal.login is None:
        return error(403, NOT_ACCESSIBLE, ctx.documentation_url)
    shown = ctx.shapes.user(ctx.principal.login)
    when = "2020-01-01T00:00:00Z"
    private = {
        "user_view_type": "private",
        "name": None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": when,
        "updated_at": when,
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": True,
    }
    return Reply(200, {**shown, **private})


HANDLERS = {"users/get-authenticated": get_authenticated_user}
