"""The local GitHub's accounts, App, installations, tokens, repositories, branches and webhook
deliveries as GitHub's REST API shows them (ids, node ids, API and web URLs, timestamps), shaped so
that the answers validate against the described response schemas. `shapes.Shapes` adds issues,
comments, reactions, pull requests and check runs on top.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.github.auth import InstallationToken
from bot.sandbox.github.identity import node_id, stable_id, user_object
from bot.sandbox.github.state import DeliveryRecord, GitHubState, Installation, Repository

Obj = dict[str, Any]
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}

_REPO_URL_TEMPLATES = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AccountShapes:
    """Renders records for one server: `api_url` is where it listens, `web_url` the html host."""

    state: GitHubState
    api_url: str
    web_url: str

    # --- accounts, the App, installations ------------------------------------------------------

    def user(self, login: str) -> Obj:
        account = self.state.known_account(login)
        shown = user_object(account.login, api_url=self.api_url, web_url=self.web_url, user_type=account.type)
        return {
            **shown,
            "id": account.id,
            "node_id": node_id(account.type, account.id),
            "user_view_type": "public",
        }

    def collaborator(self, repo: Repository, login: str) -> Obj:
        role = self.state.role(repo, login)
        granted = set(("read", "triage", "write", "maintain", "admin")[: _rank(role)])
        permissions = {
            "pull": "read" in granted,
            "triage": "triage" in granted,
            "push": "write" in granted,
            "maintain": "maintain" in granted,
            "admin": "admin" in granted,
        }
        return {**self.user(login), "permissions": permissions, "role_name": role}

    def permission(self, repo: Repository, login: str) -> Obj:
        role = self.state.role(repo, login)
        return {
            "permission": LEGACY_PERMISSION.get(role, "none"),
            "role_name": role,
            "user": self.collaborator(repo, login),
        }

    def app(self) -> Obj:
        app = self.state.app
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("App", app.id),
            "client_id": app.client_id,
            "owner": self.user(app.owner),
            "name": app.name,
            "description": "Local GitHub App",
            "external_url": f"{self.web_url}/apps/{app.slug}",
            "html_url": f"{self.web_url}/apps/{app.slug}",
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "permissions": dict(_union_permissions(self.state)),
            "events": ["check_run", "issue_comment", "issues", "pull_request"],
            "installations_count": len(self.state.installations),
        }

    def installation(self, installation: Installation) -> Obj:
        account = self.state.known_account(installation.account)
        app = self.state.app
        return {
            "id": installation.id,
            "account": self.user(account.login),
            "repository_selection": installation.repository_selection,
            "access_tokens_url": f"{self.api_url}/app/installations/{installation.id}/access_tokens",
            "repositories_url": f"{self.api_url}/installation/repositories",
            "html_url": f"{self.web_url}/organizations/{account.login}/settings/installations/{installation.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "client_id": app.client_id,
            "target_id": account.id,
            "target_type": account.type,
            "permissions": dict(installation.permissions),
            "events": list(installation.events),
            "created_at": iso(installation.created_at),
            "updated_at": iso(installation.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def token(self, token: InstallationToken) -> Obj:
        shown: Obj = {
            "token": token.value,
            "expires_at": iso(token.expires_at),
            "permissions": dict(token.permissions),
            "repository_selection": "all" if token.repository_ids is None else "selected",
        }
        if token.repository_ids is not None:
            repos = [r for r in self.state.repos_of(token.installation_id) if r.id in token.repository_ids]
            shown["repositories"] = [self.repository(r) for r in repos]
        return shown

    # --- repositories, branches ----------------------------------------------------------------

    def repository(self, repo: Repository) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}"
        git_host = urlsplit(self.web_url).hostname or "github.com"
        issues = sum(
            1 for (key, _), issue in self.state.issues.items() if key == repo.key and issue.state == "open"
        )
        shown: Obj = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user(repo.owner),
            "private": repo.private,
            "html_url": f"{self.web_url}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": url,
            **{key: url + suffix for key, suffix in _REPO_URL_TEMPLATES.items()},
            "git_url": f"git://{git_host}/{repo.full_name}.git",
            "ssh_url": f"git@{git_host}:{repo.full_name}.git",
            "clone_url": f"{self.web_url}/{repo.full_name}.git",
            "svn_url": f"{self.web_url}/{repo.full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues_count": issues,
            "open_issues": issues,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "license": None,
            "pushed_at": iso(repo.created_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.created_at),
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "network_count": 0,
            "subscribers_count": 0,
        }
        return shown

    def commit(self, repo: Repository, sha: str) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}"
        git_user = {"name": "Local GitHub", "email": "noreply@example.invalid", "date": iso(repo.created_at)}
        return {
            "sha": sha,
            "node_id": node_id("Commit", stable_id("commit", sha)),
            "url": f"{url}/commits/{sha}",
            "html_url": f"{self.web_url}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{url}/commits/{sha}/comments",
            "commit": {
                "url": f"{url}/git/commits/{sha}",
                "author": git_user,
                "committer": git_user,
                "message": "commit",
                "comment_count": 0,
                "tree": {"sha": sha, "url": f"{url}/git/trees/{sha}"},
            },
            "author": None,
            "committer": None,
            "parents": [],
        }

    def branch(self, repo: Repository, name: str) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}/branches/{name}"
        return {
            "name": name,
            "commit": self.commit(repo, repo.branches[name]),
            "_links": {"self": url, "html": f"{self.web_url}/{repo.full_name}/tree/{name}"},
            "protected": False,
            "protection": {"enabled": False},
            "protection_url": f"{url}/protection",
        }

    def git_ref(self, repo: Repository, ref: str, sha: str) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}"
        return {
            "ref": ref,
            "node_id": node_id("Ref", stable_id("ref", f"{repo.full_name}:{ref}")),
            "url": f"{url}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{url}/git/commits/{sha}"},
        }

    # --- webhook deliveries and rate limits -------------------------------------------------------

    def delivery_item(self, delivery: DeliveryRecord) -> Obj:
        return {
            "id": delivery.id,
            "guid": delivery.guid,
            "delivered_at": iso(delivery.delivered_at),
            "redelivery": delivery.redelivery,
            "duration": round(delivery.duration, 3),
            "status": delivery.status,
            "status_code": delivery.status_code,
            "event": delivery.event,
            "action": delivery.action,
            "installation_id": delivery.installation_id,
            "repository_id": delivery.repository_id,
            "throttled_at": None,
        }

    def delivery(self, delivery: DeliveryRecord) -> Obj:
        return {
            **self.delivery_item(delivery),
            "url": delivery.url,
            "request": {"headers": dict(delivery.request_headers), "payload": delivery.payload},
            "response": {"headers": dict(delivery.response_headers), "payload": delivery.response_body},
        }


def rate_limit_overview(limit: int, used: int, reset: int) -> Obj:
    core = {"limit": limit, "remaining": max(limit - used, 0), "reset": reset, "used": used}
    search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
    return {"resources": {"core": core, "search": search}, "rate": core}


def _rank(role: str) -> int:
    order = ("none", "read", "triage", "write", "maintain", "admin")
    return order.index(role) if role in order else 0


def _union_permissions(state: GitHubState) -> dict[str, str]:
    merged: dict[str, str] = {}
    for installation in state.installations.values():
        for name, level in installation.permissions.items():
            if level == "write" or name not in merged:
                merged[name] = level
    return merged
