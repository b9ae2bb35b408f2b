"""Who is calling and what they may do: the App (a JWT), an installation (a `ghs_` token) or nobody.

The rules are GitHub's documented ones. An App JWT is RS256-signed with the App's private key; `iss` is
the App id (number or string) or its client id; `iat` may be backdated (clients backdate it 60 s for
clock drift) but not lie in the future; `exp` must be in the future and at most 10 minutes ahead.
Installation tokens last an hour, reach only the installation's repositories (or the subset asked
for) and carry the installation's permissions (or the subset asked for). A token that cannot see a
private repository gets 404, as if it did not exist; on a public repository it may read but not write.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_MAX_FUTURE_SECONDS = 600
TOKEN_LIFETIME_SECONDS = 3600
DOCS = "https://docs.github.com/rest"

BAD_CREDENTIALS = "Bad credentials"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the "
    "assertion expires"
)
JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future"
JWT_BAD_IAT = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
)
NOT_ACCESSIBLE = "Resource not accessible by integration"
REQUIRES_AUTHENTICATION = "Requires authentication"
NOT_FOUND = "Not Found"

# Operations that only the App itself (JWT) may call.
APP_OPERATIONS = frozenset(
    {
        "apps/get-authenticated",
        "apps/get-installation",
        "apps/create-installation-access-token",
        "apps/get-repo-installation",
        "apps/list-webhook-deliveries",
        "apps/get-webhook-delivery",
        "apps/redeliver-webhook-delivery",
    }
)
# Operations any caller may use, including anonymous ones.
OPEN_OPERATIONS = frozenset({"rate-limit/get"})

# The installation permission each repository operation needs: (any of these permissions, level).
ISSUES_OR_PULLS = ("issues", "pull_requests")
REQUIRED_PERMISSION: Mapping[str, tuple[tuple[str, ...], str]] = {
    "repos/get": (("metadata",), "read"),
    "repos/get-branch": (("contents", "metadata"), "read"),
    "repos/get-collaborator-permission-level": (("metadata",), "read"),
    "git/get-ref": (("contents",), "read"),
    "issues/get": (ISSUES_OR_PULLS, "read"),
    "issues/get-comment": (ISSUES_OR_PULLS, "read"),
    "issues/list-comments": (ISSUES_OR_PULLS, "read"),
    "issues/create-comment": (ISSUES_OR_PULLS, "write"),
    "issues/update-comment": (ISSUES_OR_PULLS, "write"),
    "reactions/list-for-issue-comment": (ISSUES_OR_PULLS, "read"),
    "reactions/create-for-issue-comment": (ISSUES_OR_PULLS, "write"),
    "pulls/get": (("pull_requests",), "read"),
    "pulls/list": (("pull_requests",), "read"),
    "pulls/create": (("pull_requests",), "write"),
    "pulls/list-comments-for-review": (("pull_requests",), "read"),
    "checks/get": (("checks",), "read"),
    "checks/list-for-ref": (("checks",), "read"),
    "checks/create": (("checks",), "write"),
    "checks/update": (("checks",), "write"),
}
_LEVELS = {"read": 1, "write": 2, "admin": 3}


def generate_private_key_pem() -> str:
    """A fresh RSA key for the App, PKCS#8 PEM (what GitHub's "Generate a private key" gives you)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(frozen=True)
class Credential:
    scheme: str  # "bearer" or "token", lower-cased
    value: str


def parse_authorization(header: str | None) -> Credential | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not value.strip():
        return None
    return Credential(scheme.lower(), value.strip())


def jwt_problem(token: str, public_key: str, issuers: frozenset[str], now: float) -> str | None:
    """None if `token` is a valid App JWT at `now`, else GitHub's message for what is wrong."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False},
        )
    except jwt.PyJWTError:
        return JWT_UNDECODABLE
    if str(claims.get("iss")) not in issuers:
        return JWT_UNDECODABLE
    issued_at, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool) or issued_at > now:
        return JWT_BAD_IAT
    if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= now:
        return JWT_EXPIRED
    if expires > now + JWT_MAX_FUTURE_SECONDS:
        return JWT_TOO_LONG
    return None


def new_token_value() -> str:
    """An installation access token: `ghs_` and 36 alphanumerics, like GitHub's."""
    alphabet = string.ascii_letters + string.digits
    return "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))


@dataclass(frozen=True)
class InstallationToken:
    value: str
    installation_id: int
    expires_at: float
    permissions: Mapping[str, str]
    repository_ids: frozenset[int] | None  # None: every repository of the installation


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: str  # "app", "installation", "user" (a user-to-server token, oauth.py) or "anonymous"
    installation_id: int | None = None
    token: InstallationToken | None = field(default=None, repr=False)
    login: str | None = None

    @property
    def rate_key(self) -> str:
        if self.kind == "user":
            return f"user:{self.login}"
        return f"installation:{self.installation_id}" if self.kind == "installation" else self.kind


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def authenticate(
    credential: Credential | None,
    operation_id: str,
    *,
    tokens: Mapping[str, InstallationToken],
    public_key: str,
    issuers: frozenset[str],
    now: float,
) -> Principal | Refusal:
    """Check the credential against what `operation_id` needs."""
    if operation_id in APP_OPERATIONS:
        if credential is None or credential.scheme != "bearer" or credential.value.startswith("ghs_"):
            return Refusal(401, JWT_UNDECODABLE)
        problem = jwt_problem(credential.value, public_key, issuers, now)
        return Refusal(401, problem) if problem else Principal("app")
    if credential is None:
        return Principal("anonymous")
    token = tokens.get(credential.value)
    if token is not None:
        if token.expires_at <= now:
            return Refusal(401, BAD_CREDENTIALS)
        return Principal("installation", token.installation_id, token)
    if credential.scheme == "bearer" and jwt_problem(credential.value, public_key, issuers, now) is None:
        if operation_id in OPEN_OPERATIONS:
            return Principal("app")
        # A valid App JWT, but repository endpoints need an installation token.
        return Refusal(403, NOT_ACCESSIBLE)
    return Refusal(401, BAD_CREDENTIALS)


def repo_access_refusal(
    principal: Principal,
    operation_id: str,
    method: str,
    *,
    repo_id: int,
    repo_installation_id: int | None,
    private: bool,
) -> Refusal | None:
    """None if `principal` may call `operation_id` on the repository, else GitHub's answer."""
    if principal.kind == "app":
        return None if operation_id in APP_OPERATIONS else Refusal(403, NOT_ACCESSIBLE)
    token = principal.token
    if (
        token is None
        or token.installation_id != repo_installation_id
        or (token.repository_ids is not None and repo_id not in token.repository_ids)
    ):
        if private:
            return Refusal(404, NOT_FOUND)
        if method in ("GET", "HEAD"):
            return None
        return Refusal(401, REQUIRES_AUTHENTICATION) if token is None else Refusal(403, NOT_ACCESSIBLE)
    needed = REQUIRED_PERMISSION.get(operation_id)
    if needed is not None and not permits(token.permissions, needed):
        return Refusal(403, NOT_ACCESSIBLE)
    return None


def permits(granted: Mapping[str, str], needed: tuple[tuple[str, ...], str]) -> bool:
    names, level = needed
    return any(_LEVELS.get(granted.get(name, ""), 0) >= _LEVELS[level] for name in names)


def narrower_permissions(asked: Mapping[str, str], granted: Mapping[str, str]) -> bool:
    """True if every permission asked for is within what the installation was granted."""
    return all(
        _LEVELS.get(granted.get(name, ""), 0) >= _LEVELS.get(level, 99) for name, level in asked.items()
    )
