"""Objects inside webhook deliveries, and retargeting a recorded delivery at a scenario's repository.

The builders in `bot.sandbox.payloads` start from the recorded deliveries in `payload_fixtures/` and
use these helpers to replace the repository, hosts, installation, sender, issue, labels and comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.github.identity import API_URL, WEB_URL, RepoRef, node_id, stable_id, user_object

Payload = dict[str, Any]
Sender = str | Mapping[str, Any]
_API_HOST = re.compile(r"^https://api\.github\.com(?=[/?#]|$)")
_WEB_HOST = re.compile(r"^https?://github\.com(?=[/?#]|$)")

# --- reading the recorded deliveries -----------------------------------------------------------------


@cache
def _fixture_text(file_name: str) -> str:
    return (resources.files("bot.sandbox") / "github" / "payload_fixtures" / file_name).read_text()


def fixture(file_name: str) -> Payload:
    """A fresh copy of one recorded delivery, e.g. `fixture("issue_comment.created.json")`."""
    loaded: Payload = json.loads(_fixture_text(file_name))
    return loaded


# --- objects inside deliveries ----------------------------------------------------------------------


def organization_object(login: str, template: Mapping[str, Any], api_url: str) -> Payload:
    org_id = stable_id("user", login)
    orgs = f"{api_url}/orgs/{login}"
    return {
        **template,
        "login": login,
        "id": org_id,
        "node_id": node_id("Organization", org_id),
        "url": orgs,
        "repos_url": f"{orgs}/repos",
        "events_url": f"{orgs}/events",
        "hooks_url": f"{orgs}/hooks",
        "issues_url": f"{orgs}/issues",
        "members_url": f"{orgs}/members{{/member}}",
        "public_members_url": f"{orgs}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org_id}?v=4",
        "description": "",
    }


def comment_object(
    repo: RepoRef,
    issue_number: int,
    body: str,
    user: str,
    *,
    comment_id: int | None = None,
    on_pull_request: bool = False,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
    created_at: str = "2025-01-01T00:00:00Z",
) -> Payload:
    """An issue comment as GitHub shows it (REST and webhooks), for scenarios without a local API."""
    key = f"{repo.full_name}#{issue_number}:{body}"
    cid = comment_id or stable_id("comment", key)
    issue_url = f"{api_url}/repos/{repo.full_name}/issues/{issue_number}"
    page = "pull" if on_pull_request else "issues"
    return {
        "url": f"{api_url}/repos/{repo.full_name}/issues/comments/{cid}",
        "html_url": f"{web_url}/{repo.full_name}/{page}/{issue_number}#issuecomment-{cid}",
        "issue_url": issue_url,
        "id": cid,
        "node_id": node_id("IssueComment", cid),
        "user": user_object(user, api_url=api_url, web_url=web_url),
        "created_at": created_at,
        "updated_at": created_at,
        "author_association": "CONTRIBUTOR",
        "body": body,
        "performed_via_github_app": None,
        "reactions": reaction_rollup(f"{api_url}/repos/{repo.full_name}/issues/comments/{cid}/reactions"),
    }


def reaction_rollup(url: str) -> Payload:
    counts = dict.fromkeys(("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0)
    return {"url": url, "total_count": 0, **counts}


# --- retargeting a recorded delivery at the scenario's repository ------------------------------------


@dataclass(frozen=True)
class Target:
    repo: RepoRef
    api_url: str
    web_url: str

    @property
    def git_host(self) -> str:
        return urlsplit(self.web_url).hostname or "github.com"


def _rewrite_strings(node: Any, rewrite: Any) -> Any:
    if isinstance(node, str):
        return rewrite(node)
    if isinstance(node, dict):
        return {key: _rewrite_strings(value, rewrite) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_strings(value, rewrite) for value in node]
    return node


def retarget(payload: Payload, target: Target, installation_id: int | None, sender: Sender) -> Payload:
    """`payload` with its repository, hosts, installation and sender replaced by the scenario's."""
    old_repo = payload.get("repository") or {}
    old_full_name = str(old_repo.get("full_name", ""))
    repo = target.repo
    path_pattern = re.compile(rf"(?<=[/:]){re.escape(old_full_name)}(?=[/.#?]|$)") if old_full_name else None

    def rewrite(text: str) -> str:
        text = _API_HOST.sub(lambda _: target.api_url, text)
        text = _WEB_HOST.sub(lambda _: target.web_url, text)
        text = text.replace("git@github.com:", f"git@{target.git_host}:")
        text = text.replace("git://github.com/", f"git://{target.git_host}/")
        return path_pattern.sub(repo.full_name, text) if path_pattern else text

    result: Payload = _rewrite_strings(payload, rewrite)
    owner = user_object(repo.owner, api_url=target.api_url, web_url=target.web_url, user_type=repo.owner_type)

    full, host = repo.full_name, target.git_host
    canonical_urls = {
        "url": f"{target.api_url}/repos/{full}",
        "html_url": f"{target.web_url}/{full}",
        "git_url": f"git://{host}/{full}.git",
        "ssh_url": f"git@{host}:{full}.git",
        "clone_url": f"{target.web_url}/{full}.git",
        "svn_url": f"{target.web_url}/{full}",
    }

    def fix_repositories(node: Any) -> None:
        if isinstance(node, dict):
            if old_full_name and node.get("full_name") == old_full_name:
                node.update(
                    id=repo.repo_id,
                    node_id=node_id("Repository", repo.repo_id),
                    name=repo.name,
                    full_name=repo.full_name,
                    private=repo.private,
                )
                if "owner" in node:
                    node["owner"] = dict(owner)
                for key, url in canonical_urls.items():
                    if key in node:
                        node[key] = url
                for key in ("default_branch", "master_branch"):
                    if key in node:
                        node[key] = repo.default_branch
                if "visibility" in node:
                    node["visibility"] = "private" if repo.private else "public"
            for value in node.values():
                fix_repositories(value)
        elif isinstance(node, list):
            for value in node:
                fix_repositories(value)

    fix_repositories(result)
    if repo.owner_type == "Organization":
        template = result.get("organization") or {}
        result["organization"] = organization_object(repo.owner, template, target.api_url)
    else:
        result.pop("organization", None)
    if installation_id is not None:
        result["installation"] = {
            "id": installation_id,
            "node_id": node_id("IntegrationInstallation", installation_id),
        }
    else:
        result.pop("installation", None)
    result["sender"] = sender_object(sender, target)
    return result


def sender_object(sender: Sender, target: Target) -> Payload:
    if isinstance(sender, str):
        return user_object(sender, api_url=target.api_url, web_url=target.web_url)
    return dict(sender)


def issue_object(
    template: Payload,
    target: Target,
    number: int,
    title: str,
    body: str,
    user: Sender,
    on_pull_request: bool,
    labels: Sequence[str],
) -> Payload:
    full, api, web = target.repo.full_name, target.api_url, target.web_url
    issue_id = stable_id("issue", f"{full}#{number}")
    issue_api = f"{api}/repos/{full}/issues/{number}"
    issue = {
        **template,
        "url": issue_api,
        "repository_url": f"{api}/repos/{full}",
        "labels_url": f"{issue_api}/labels{{/name}}",
        "comments_url": f"{issue_api}/comments",
        "events_url": f"{issue_api}/events",
        "html_url": f"{web}/{full}/{'pull' if on_pull_request else 'issues'}/{number}",
        "id": issue_id,
        "node_id": node_id("PullRequest" if on_pull_request else "Issue", issue_id),
        "number": number,
        "title": title,
        "body": body,
        "user": sender_object(user, target),
        "labels": [label_object(name, target) for name in labels],
        "state": "open",
        "assignee": None,
        "assignees": [],
        "milestone": None,
    }
    if "reactions" in issue:
        issue["reactions"] = reaction_rollup(f"{issue_api}/reactions")
    if "timeline_url" in issue:
        issue["timeline_url"] = f"{issue_api}/timeline"
    if on_pull_request:
        issue["pull_request"] = {
            **template.get("pull_request", {}),
            "url": f"{api}/repos/{full}/pulls/{number}",
            "html_url": f"{web}/{full}/pull/{number}",
            "diff_url": f"{web}/{full}/pull/{number}.diff",
            "patch_url": f"{web}/{full}/pull/{number}.patch",
        }
    else:
        issue.pop("pull_request", None)
    return issue


def label_object(name: str, target: Target) -> Payload:
    label_id = stable_id("label", f"{target.repo.full_name}:{name}")
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{target.api_url}/repos/{target.repo.full_name}/labels/{name}",
        "name": name,
        "color": "0e8a16",
        "default": False,
        "description": "",
    }
