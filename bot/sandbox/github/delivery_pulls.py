"""Pull requests and check runs inside webhook deliveries: a recorded object retargeted at the
scenario's repository, number, branches, SHAs and App."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.sandbox.github.delivery_objects import Payload, Target, label_object
from bot.sandbox.github.identity import RepoRef, node_id, stable_id


@dataclass(frozen=True)
class PullFields:
    number: int
    title: str
    body: str
    user: Payload
    head_ref: str
    head_sha: str


def pull_request_object(
    template: Payload,
    target: Target,
    pull: PullFields,
    *,
    base_ref: str,
    base_sha: str | None,
    label: str,
    owner: Payload,
) -> Payload:
    """The recorded `pull_request` object as pull request `pull.number` of the scenario's repository."""
    full, api, number = target.repo.full_name, target.api_url, pull.number
    pull_id = stable_id("pull", f"{full}#{number}")
    pulls_api = f"{api}/repos/{full}/pulls/{number}"
    issue_api = f"{api}/repos/{full}/issues/{number}"
    statuses = f"{api}/repos/{full}/statuses/{pull.head_sha}"
    html = f"{target.web_url}/{full}/pull/{number}"
    shown: Payload = {
        **template,
        "url": pulls_api,
        "id": pull_id,
        "node_id": node_id("PullRequest", pull_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "number": number,
        "title": pull.title,
        "body": pull.body,
        "user": pull.user,
        "state": "open",
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "milestone": None,
        "labels": [label_object(label, target)],
        "commits_url": f"{pulls_api}/commits",
        "review_comments_url": f"{pulls_api}/comments",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": statuses,
    }
    owner_login = target.repo.owner
    shown["head"] = {
        **template["head"],
        "label": f"{owner_login}:{pull.head_ref}",
        "ref": pull.head_ref,
        "sha": pull.head_sha,
        "user": owner,
    }
    shown["base"] = {**template["base"], "label": f"{owner_login}:{base_ref}", "ref": base_ref, "user": owner}
    if base_sha is not None:
        shown["base"]["sha"] = base_sha
    links = {
        "self": pulls_api,
        "html": html,
        "issue": issue_api,
        "comments": f"{issue_api}/comments",
        "review_comments": f"{pulls_api}/comments",
        "commits": f"{pulls_api}/commits",
        "statuses": statuses,
        "review_comment": f"{api}/repos/{full}/pulls/comments{{/number}}",
    }
    shown["_links"] = {
        name: {"href": links.get(name, value.get("href"))} for name, value in template["_links"].items()
    }
    return shown


@dataclass(frozen=True)
class CheckRunFields:
    check_run_id: int
    head_sha: str
    app_id: int
    app_slug: str
    name: str
    external_id: str
    status: str
    conclusion: str | None
    head_branch: str | None
    pull_request_numbers: Sequence[int]


def check_run_object(template: Payload, target: Target, run: CheckRunFields, owner: Payload) -> Payload:
    """The recorded `check_run` object as the scenario's check run, created by the scenario's App."""
    repo, api = target.repo, target.api_url
    full = repo.full_name
    html = f"{target.web_url}/{full}/runs/{run.check_run_id}"
    app = {
        **template["app"],
        "id": run.app_id,
        "slug": run.app_slug,
        "node_id": node_id("App", run.app_id),
        "name": run.app_slug,
        "owner": owner,
        "external_url": f"{target.web_url}/apps/{run.app_slug}",
        "html_url": f"{target.web_url}/apps/{run.app_slug}",
    }
    pulls = [_minimal_pull(repo, api, number, run) for number in run.pull_request_numbers]
    suite_id = stable_id("check_suite", f"{full}@{run.head_sha}")
    suite = {
        **template["check_suite"],
        "id": suite_id,
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "url": f"{api}/repos/{full}/check-suites/{suite_id}",
        "pull_requests": pulls,
        "app": app,
        "after": run.head_sha,
    }
    if "node_id" in suite:
        suite["node_id"] = node_id("CheckSuite", suite_id)
    shown: Payload = {
        **template,
        "id": run.check_run_id,
        "node_id": node_id("CheckRun", run.check_run_id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": f"{api}/repos/{full}/check-runs/{run.check_run_id}",
        "html_url": html,
        "details_url": html,
        "status": run.status,
        "conclusion": run.conclusion,
        "name": run.name,
        "app": app,
        "pull_requests": pulls,
        "check_suite": suite,
    }
    if run.conclusion is None:
        shown["completed_at"] = None
    return shown


def _minimal_pull(repo: RepoRef, api_url: str, number: int, run: CheckRunFields) -> dict[str, Any]:
    minimal_repo = {"id": repo.repo_id, "url": f"{api_url}/repos/{repo.full_name}", "name": repo.name}
    return {
        "url": f"{api_url}/repos/{repo.full_name}/pulls/{number}",
        "id": stable_id("pull", f"{repo.full_name}#{number}"),
        "number": number,
        "head": {"ref": run.head_branch or "", "sha": run.head_sha, "repo": minimal_repo},
        "base": {"ref": repo.default_branch, "sha": "0" * 40, "repo": minimal_repo},
    }
