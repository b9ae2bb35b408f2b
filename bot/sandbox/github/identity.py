"""Identities shared by the local GitHub API and the webhook payload builders.

Ids are stable functions of names, so a payload built for "demo-org/trader" and "alice" names the same
repository and user that the local API serves, without either side asking the other.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any

API_URL = "https://api.github.com"
WEB_URL = "https://github.com"


def stable_id(kind: str, key: str) -> int:
    """A positive id that depends only on (kind, key): the same in payloads and the local API."""
    return 10_000_000 + zlib.crc32(f"{kind}:{key.lower()}".encode())


def node_id(type_name: str, object_id: int) -> str:
    """GitHub's (legacy) global node id: base64 of "0<len>:<Type><id>"."""
    return base64.b64encode(f"0{len(type_name)}:{type_name}{object_id}".encode()).decode()


def user_type_for(login: str) -> str:
    return "Bot" if login.endswith("[bot]") else "User"


@dataclass(frozen=True)
class RepoRef:
    """A repository as the scenario names it; ids default to the stable ones the local API uses."""

    owner: str
    name: str
    default_branch: str = "main"
    private: bool = False
    owner_type: str = "Organization"
    id: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def repo_id(self) -> int:
        return self.id or stable_id("repo", self.full_name)

    @classmethod
    def parse(cls, full_name: str, **fields: Any) -> RepoRef:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"expected OWNER/NAME, got {full_name!r}")
        return cls(owner=owner, name=name, **fields)


def user_object(
    login: str, *, api_url: str = API_URL, web_url: str = WEB_URL, user_type: str | None = None
) -> dict[str, Any]:
    """A user as GitHub embeds it in deliveries (`sender`, `user`, `owner`)."""
    user_id = stable_id("user", login)
    kind = user_type or user_type_for(login)
    users = f"{api_url}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": node_id(kind, user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": users,
        "html_url": f"{web_url}/{login}",
        "followers_url": f"{users}/followers",
        "following_url": f"{users}/following{{/other_user}}",
        "gists_url": f"{users}/gists{{/gist_id}}",
        "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{users}/subscriptions",
        "organizations_url": f"{users}/orgs",
        "repos_url": f"{users}/repos",
        "events_url": f"{users}/events{{/privacy}}",
        "received_events_url": f"{users}/received_events",
        "type": kind,
        "site_admin": False,
    }
