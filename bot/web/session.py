"""Cookies and sessions of the run page.

Two cookies, both sealed with Fernet (AES-128-CBC encrypted and HMAC-SHA256 signed, from the
`cryptography` package the bot already uses), under keys derived from `ORCHESTRATOR_SESSION_SECRET`:

- `orchestrator_oauth` (ten minutes): the OAuth `state` sent to GitHub and the page to return to; the
  callback accepts a `state` only from the browser it was given to;
- `orchestrator_session`: a random session id, the login and when it expires (with the user token).

The page's forms (Cancel, Retry, sign out) carry a token derived from the session id under a fourth
key (`form_token`): a request from another site has none that matches.

The user's GitHub token never goes to the browser: it is kept in the store (`sessions`), encrypted
under a third key, found by the SHA-256 of the session id. A forged, altered or expired cookie reads as
no cookie; signing out deletes the stored session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SESSION_COOKIE = "orchestrator_session"
OAUTH_COOKIE = "orchestrator_oauth"
OAUTH_SECONDS = 600
DEFAULT_SESSION_SECONDS = 8 * 3600
"""When GitHub gives a token without an expiry (an App that opted out of expiring user tokens)."""


def _key(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"orchestrator-bot " + purpose).derive(
        secret.encode()
    )


def _fernet(secret: str, purpose: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_key(secret, purpose)))


@dataclass(frozen=True)
class Viewer:
    """A signed-in person, as one request sees them."""

    login: str
    user_id: int
    token: str
    session_hash: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Viewer({self.login!r})"  # never the token


class Sealer:
    """Seals and opens the cookies and the stored tokens."""

    def __init__(self, secret: str) -> None:
        self._oauth = _fernet(secret, b"oauth state cookie")
        self._session = _fernet(secret, b"session cookie")
        self._tokens = _fernet(secret, b"stored user token")
        self._forms = _key(secret, b"form token")

    def form_token(self, session_hash: str) -> str:
        """The CSRF token of the page's forms: bound to the session, so a page of another site (which
        cannot read ours) has none that works, and signing out voids it."""
        return hmac.new(self._forms, session_hash.encode(), hashlib.sha256).hexdigest()

    def form_token_matches(self, session_hash: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.form_token(session_hash), given)

    def seal_oauth(self, state: str, next_path: str, now: float) -> str:
        return self._seal(self._oauth, {"state": state, "next": next_path}, now)

    def open_oauth(self, cookie: str | None, now: float) -> dict[str, Any] | None:
        return self._open(self._oauth, cookie, now, OAUTH_SECONDS)

    def seal_session(self, session_id: str, login: str, expires_at: float, now: float) -> str:
        return self._seal(self._session, {"sid": session_id, "login": login, "exp": expires_at}, now)

    def open_session(self, cookie: str | None, now: float) -> dict[str, Any] | None:
        opened = self._open(self._session, cookie, now, None)
        if opened is None or not isinstance(opened.get("exp"), int | float) or opened["exp"] <= now:
            return None
        return opened if isinstance(opened.get("sid"), str) else None

    def seal_token(self, token: str) -> str:
        return self._tokens.encrypt(token.encode()).decode()

    def open_token(self, sealed: str) -> str | None:
        try:
            return self._tokens.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    @staticmethod
    def _seal(fernet: Fernet, values: dict[str, Any], now: float) -> str:
        return fernet.encrypt_at_time(json.dumps(values).encode(), int(now)).decode()

    @staticmethod
    def _open(fernet: Fernet, cookie: str | None, now: float, ttl: int | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > 4096:
            return None
        try:
            raw = (
                fernet.decrypt_at_time(cookie.encode(), ttl, int(now))
                if ttl is not None
                else fernet.decrypt(cookie.encode())
            )
            values = json.loads(raw)
        except (InvalidToken, ValueError, UnicodeError):
            return None
        return values if isinstance(values, dict) else None


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_state() -> str:
    return secrets.token_urlsafe(24)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//host` or a full URL)."""
    if (
        not path
        or not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(character) < 32 for character in path)
    ):
        return "/runs"
    return path[:2000]
