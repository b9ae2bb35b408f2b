"""Review deliveries: `pull_request_review` `submitted` and `pull_request_review_comment` `created`,
built from the recorded `@octokit/webhooks-examples` deliveries, retargeted at the scenario's
repository, pull request, reviewer and review (the way `bot.sandbox.payloads` builds the others)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.github.delivery_objects import Payload, Sender, Target, fixture, retarget, sender_object
from bot.sandbox.github.delivery_pulls import PullFields, pull_request_object
from bot.sandbox.github.identity import API_URL, WEB_URL, RepoRef, node_id


@dataclass(frozen=True)
class PullRef:
    """The pull request a review is on, as the local GitHub has it."""

    number: int
    head_ref: str
    head_sha: str
    title: str = "A change"
    author: str = "orchestrator-bot[bot]"


def _delivery(
    name: str,
    repo: RepoRef,
    pull: PullRef,
    reviewer: Sender,
    installation_id: int | None,
    api_url: str,
    web_url: str,
) -> tuple[Payload, Target]:
    """The recorded delivery `name`, retargeted, with its pull request made `pull`."""
    target = Target(repo, api_url, web_url)
    payload = retarget(fixture(name), target, installation_id, reviewer)
    payload["pull_request"] = _pull(payload["pull_request"], target, pull, payload["repository"]["owner"])
    return payload, target


def _pull(template: Payload, target: Target, pull: PullRef, owner: Payload) -> Payload:
    fields = PullFields(
        pull.number, pull.title, "", sender_object(pull.author, target), pull.head_ref, pull.head_sha
    )
    return pull_request_object(
        template, target, fields, base_ref=target.repo.default_branch, base_sha=None, label="", owner=owner
    )


def pull_request_review_submitted(
    repo: RepoRef,
    pull: PullRef,
    review_id: int,
    state: str,
    body: str,
    reviewer: Sender,
    *,
    installation_id: int | None,
    submitted_at: str,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`state` as webhooks spell it: `approved`, `changes_requested`, `commented`."""
    payload, target = _delivery(
        "pull_request_review.submitted.json", repo, pull, reviewer, installation_id, api_url, web_url
    )
    html = f"{web_url}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review_id}"
    pull_api = f"{api_url}/repos/{repo.full_name}/pulls/{pull.number}"
    payload["review"] = {
        **payload["review"],
        "id": review_id,
        "node_id": node_id("PullRequestReview", review_id),
        "user": sender_object(reviewer, target),
        "body": body or None,
        "commit_id": pull.head_sha,
        "submitted_at": submitted_at,
        "state": state,
        "html_url": html,
        "pull_request_url": pull_api,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_api}},
    }
    return payload


def pull_request_review_comment_created(
    repo: RepoRef,
    pull: PullRef,
    comment: Payload,
    reviewer: Sender,
    *,
    installation_id: int | None,
    api_url: str = API_URL,
    web_url: str = WEB_URL,
) -> Payload:
    """`comment` is the review comment as the REST API shows it (the local GitHub's shape)."""
    payload, target = _delivery(
        "pull_request_review_comment.created.json", repo, pull, reviewer, installation_id, api_url, web_url
    )
    template = payload["comment"]
    comment_id, line = comment["id"], comment.get("line") or 1
    api = f"{api_url}/repos/{repo.full_name}"
    url, pull_api = f"{api}/pulls/comments/{comment_id}", f"{api}/pulls/{pull.number}"
    html = f"{web_url}/{repo.full_name}/pull/{pull.number}#discussion_r{comment_id}"
    own = {
        "node_id": node_id("PullRequestReviewComment", comment_id),
        "diff_hunk": f"@@ -{line},1 +{line},1 @@",
        "commit_id": pull.head_sha,
        "original_commit_id": pull.head_sha,
        "url": url,
        "html_url": html,
        "pull_request_url": pull_api,
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_api}},
    }
    payload["comment"] = {
        **template,
        **own,
        **{key: value for key, value in comment.items() if key in template},
        "user": sender_object(reviewer, target),
    }
    return payload
