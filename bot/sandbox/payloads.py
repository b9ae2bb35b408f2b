"""Webhook deliveries for scenarios, built from real recorded GitHub deliveries.

Every builder starts from a payload of `@octokit/webhooks-examples` (vendored as package data in
`bot/sandbox/github/payload_fixtures/`, the same files as `tests/fixtures/webhooks/`) and substitutes
only what a scenario decides: the repository (ids, names, owner, URLs, default branch, visibility), the
installation, the sender, the issue or pull request, the comment, the label, the check run. Everything
else stays as GitHub sent it, so handlers see the full shape of a real delivery.

Ids are stable functions of names (`stable_id`), and the local GitHub API uses the same ones, so a
payload built here for "demo-org/trader" and "alice" names the repository and user that the server
knows. Pass `api_url=gh.url` to make the payload's API URLs point at the local server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.sandbox.github.delivery_objects import (
    Payload,
    Sender,
    Target,
    comment_object,
    fixture,
    issue_object,
    label_object,
    retarget,
    sender_object,
)
from bot.sandbox.github.delivery_pulls import (
    CheckRunFields,
    PullFields,
    check_run_object,
    pull_request_object,
)
from bot.sandbox.github.identity import API_URL, WEB_URL, RepoRef, node_id, stable_id, user_object

__all__ = [
    "API_URL",
    "WEB_URL",
    "Payload",
    "RepoRef",
    "check_run_requested_action",
    "check_run_rerequested",
    "comment_object",
    "fixture",
    "installation_created",
    "issue_comment_created",
    "issue_comment_edited",
    "issues_labeled",
    "ping",
    "pull_request_labeled",
    "push",
    "stable_id",
    "user_object",
]

# --- the builders -------------------------------------------------------------------------------------


def _comment(
    comment: Mapping[str, Any] | str,
    repo: RepoRef,
    issue_number: int,
    sender: Sender,
    on_pull_request: bool,
    target: Target,
) -> Payload:
    if isinstance(comment, str):
        author = sender if isinstance(sender, str) else str(sender["login"])
        return comment_object(
            repo,
            issue_number,
            comment,
            author,
            on_pull_request=on_pull_request,
            api_url=target.api_url,
            web_url=target.web_url,
        )
    return dict(comment)


def issue_comment_created(
    repo: RepoRef,
    issue_number: int,
    comment: Mapping[str, Any] | str,
    sender: Sender,
    on_pull_request: bool = False,
    installation_id: int | None = None,
    *,
    issue_title: str = "A task",
    issue_body: str = "",
    issue_user: Sender | None = None,
    labels: Sequence[str] = (),
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`issue_comment` `created`: `comment` is a comment object (e.g. from `LocalGitHubAPI.add_comment`)
    or just its body. On a pull request the issue carries the `pull_request` key, as on GitHub."""
    source = "issue_comment.created.pull_request.json" if on_pull_request else "issue_comment.created.json"
    return _comment_delivery(
        fixture(source),
        repo,
        issue_number,
        comment,
        sender,
        on_pull_request,
        installation_id,
        issue_title,
        issue_body,
        issue_user,
        labels,
        Target(repo, api_url, web_url),
    )


def issue_comment_edited(
    repo: RepoRef,
    issue_number: int,
    comment: Mapping[str, Any] | str,
    sender: Sender,
    *,
    previous_body: str,
    on_pull_request: bool = False,
    installation_id: int | None,
    issue_title: str = "A task",
    issue_body: str = "",
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`issue_comment` `edited` (the bot ignores these): `changes.body.from` is `previous_body`."""
    template = fixture("issue_comment.edited.json")
    if on_pull_request:
        template["issue"]["pull_request"] = fixture("issue_comment.created.pull_request.json")["issue"][
            "pull_request"
        ]
    payload = _comment_delivery(
        template,
        repo,
        issue_number,
        comment,
        sender,
        on_pull_request,
        installation_id,
        issue_title,
        issue_body,
        None,
        (),
        Target(repo, api_url, web_url),
    )
    payload["changes"] = {"body": {"from": previous_body}}
    return payload


def _comment_delivery(
    template: Payload,
    repo: RepoRef,
    issue_number: int,
    comment: Mapping[str, Any] | str,
    sender: Sender,
    on_pull_request: bool,
    installation_id: int | None,
    issue_title: str,
    issue_body: str,
    issue_user: Sender | None,
    labels: Sequence[str],
    target: Target,
) -> Payload:
    payload = retarget(template, target, installation_id, sender)
    payload["issue"] = issue_object(
        payload["issue"],
        target,
        issue_number,
        issue_title,
        issue_body,
        issue_user or sender,
        on_pull_request,
        labels,
    )
    payload["comment"] = {
        **payload["comment"],
        **_comment(comment, repo, issue_number, sender, on_pull_request, target),
    }
    return payload


def issues_labeled(
    repo: RepoRef,
    issue_number: int,
    label: str,
    sender: Sender,
    *,
    installation_id: int | None,
    issue_title: str = "A task",
    issue_body: str = "",
    issue_user: Sender | None = None,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`issues` `labeled`: `label` was added to the issue (its body may hold the `/code` command)."""
    target = Target(repo, api_url, web_url)
    payload = retarget(fixture("issues.labeled.json"), target, installation_id, sender)
    payload["issue"] = issue_object(
        payload["issue"], target, issue_number, issue_title, issue_body, issue_user or sender, False, [label]
    )
    payload["label"] = label_object(label, target)
    return payload


def pull_request_labeled(
    repo: RepoRef,
    pull_number: int,
    label: str,
    sender: Sender,
    *,
    installation_id: int | None,
    head_ref: str,
    head_sha: str,
    base_ref: str | None = None,
    base_sha: str | None = None,
    title: str = "A change",
    body: str = "",
    pull_user: Sender | None = None,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`pull_request` `labeled` for an open pull request from `head_ref` into `base_ref`."""
    target = Target(repo, api_url, web_url)
    payload = retarget(fixture("pull_request.labeled.json"), target, installation_id, sender)
    payload["pull_request"] = pull_request_object(
        payload["pull_request"],
        target,
        PullFields(pull_number, title, body, sender_object(pull_user or sender, target), head_ref, head_sha),
        base_ref=base_ref or repo.default_branch,
        base_sha=base_sha,
        label=label,
        owner=payload["repository"]["owner"],
    )
    payload["number"] = pull_number
    payload["label"] = label_object(label, target)
    return payload


def _check_run_delivery(
    source: str,
    repo: RepoRef,
    sender: Sender,
    installation_id: int | None,
    run: CheckRunFields,
    target: Target,
) -> Payload:
    payload = retarget(fixture(source), target, installation_id, sender)
    payload["check_run"] = check_run_object(payload["check_run"], target, run, payload["repository"]["owner"])
    return payload


def check_run_requested_action(
    repo: RepoRef,
    *,
    check_run_id: int,
    head_sha: str,
    identifier: str,
    sender: Sender,
    installation_id: int | None,
    app_id: int,
    app_slug: str = "orchestrator-bot",
    name: str = "orchestrator",
    external_id: str = "",
    status: str = "in_progress",
    conclusion: str | None = None,
    head_branch: str | None = None,
    pull_request_numbers: Sequence[int] = (),
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`check_run` `requested_action`: someone pressed the button whose identifier is `identifier`."""
    payload = _check_run_delivery(
        "check_run.requested_action.json",
        repo,
        sender,
        installation_id,
        CheckRunFields(
            check_run_id,
            head_sha,
            app_id,
            app_slug,
            name,
            external_id,
            status,
            conclusion,
            head_branch,
            tuple(pull_request_numbers),
        ),
        Target(repo, api_url, web_url),
    )
    payload["requested_action"] = {"identifier": identifier}
    return payload


def check_run_rerequested(
    repo: RepoRef,
    *,
    check_run_id: int,
    head_sha: str,
    sender: Sender,
    installation_id: int | None,
    app_id: int,
    app_slug: str = "orchestrator-bot",
    name: str = "orchestrator",
    external_id: str = "",
    conclusion: str = "failure",
    head_branch: str | None = None,
    pull_request_numbers: Sequence[int] = (),
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`check_run` `rerequested`: someone pressed "Re-run" on a completed check run."""
    return _check_run_delivery(
        "check_run.rerequested.json",
        repo,
        sender,
        installation_id,
        CheckRunFields(
            check_run_id,
            head_sha,
            app_id,
            app_slug,
            name,
            external_id,
            "completed",
            conclusion,
            head_branch,
            tuple(pull_request_numbers),
        ),
        Target(repo, api_url, web_url),
    )


def ping(
    *,
    app_id: int,
    hook_id: int = 424242,
    repo: RepoRef | None = None,
    sender: Sender = "octocat",
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`ping`, sent when the App's webhook is created."""
    payload = fixture("ping.json")
    if repo is not None:
        payload = retarget(payload, Target(repo, api_url, web_url), None, sender)
    else:
        payload["sender"] = sender_object(sender, Target(RepoRef("x", "y"), api_url, web_url))
    payload["hook_id"] = hook_id
    payload["hook"].update(id=hook_id, app_id=app_id)
    return payload


def push(
    repo: RepoRef,
    *,
    sender: Sender,
    installation_id: int | None,
    ref: str | None = None,
    after: str = "1" * 40,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`push` of `ref` (default: the default branch) to `after`; an event the bot ignores."""
    payload = retarget(fixture("push.json"), Target(repo, api_url, web_url), installation_id, sender)
    payload["ref"] = ref or f"refs/heads/{repo.default_branch}"
    payload["after"] = after
    return payload


def installation_created(
    *,
    installation_id: int,
    account: str,
    app_id: int,
    sender: Sender,
    repositories: Sequence[RepoRef] = (),
    account_type: str = "Organization",
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`installation` `created`: the App was installed on `account` for `repositories`."""
    payload = fixture("installation.created.json")
    target = Target(RepoRef(account, "-"), api_url, web_url)
    account_object = user_object(account, api_url=api_url, web_url=web_url, user_type=account_type)
    payload["installation"].update(
        id=installation_id,
        account=account_object,
        app_id=app_id,
        target_id=account_object["id"],
        target_type=account_type,
        access_tokens_url=f"{api_url}/app/installations/{installation_id}/access_tokens",
        repositories_url=f"{api_url}/installation/repositories",
        html_url=f"{web_url}/organizations/{account}/settings/installations/{installation_id}",
    )
    payload["repositories"] = [
        {
            "id": r.repo_id,
            "node_id": node_id("Repository", r.repo_id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
        }
        for r in repositories
    ]
    payload["sender"] = sender_object(sender, target)
    return payload
