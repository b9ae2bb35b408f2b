"""Where a command came from, built from the plain values a decoded webhook payload holds, and kept on
the run as annotations so the feedback loop can find the issue, comment, PR head and installation from
the resource alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

ANNOTATION_PREFIX = "orchestrator.platform/"
Source = Literal["comment", "label", "check_run", "review", "review_comment", "run_page"]


@dataclass(frozen=True)
class Origin:
    repository: str
    """owner/name"""
    repository_id: int
    ssh_url: str
    html_url: str
    """The repository's web address as GitHub gives it (`https://github.com/owner/name`, or on an
    Enterprise Server its host): which GitHub this is, for repository URLs and pull request links."""
    default_branch: str
    issue_number: int
    is_pull_request: bool
    sender: str
    sender_type: str
    installation_id: int
    delivery_id: str
    source: Source
    comment_id: int | None = None
    head_sha: str | None = None
    head_branch: str | None = None
    head_repository: str | None = None
    """owner/name of the PR's head repository (a fork when it differs from `repository`)."""
    event_key: str | None = None
    """What makes this event unique inside its signed body (the comment's id; the label, the issue and
    the time it was added). Run names derive from it: `X-GitHub-Delivery` is not covered by the
    signature, so a captured delivery sent again under new delivery ids must not count as a new
    command."""

    @property
    def run_identity(self) -> str:
        """The event's identity for run names: `event_key`, else the delivery id."""
        return self.event_key or self.delivery_id

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]

    @property
    def from_fork(self) -> bool:
        return self.head_repository is not None and self.head_repository != self.repository

    def with_pull_request(self, pull: dict[str, Any]) -> Origin:
        """Fill in the head of the PR (the issue_comment payload does not carry it)."""
        head = pull.get("head") or {}
        head_repo = head.get("repo") or {}
        return replace(
            self,
            head_sha=head.get("sha"),
            head_branch=head.get("ref"),
            head_repository=head_repo.get("full_name"),
        )

    def annotations(self) -> dict[str, str]:
        values: dict[str, str | int | None] = {
            "repository": self.repository,
            "repository-html-url": self.html_url,
            "issue": self.issue_number,
            "pull-request": "true" if self.is_pull_request else "false",
            "comment-id": self.comment_id,
            "delivery": self.delivery_id,
            "installation-id": self.installation_id,
            "head-sha": self.head_sha,
            "source": self.source,
        }
        return {ANNOTATION_PREFIX + key: str(value) for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Envelope:
    """What every repository event carries, as plain values: where, who, through which installation,
    and the delivery (bot/core/events.py reads them out of the decoded payload)."""

    repository: str
    """owner/name"""
    repository_id: int
    ssh_url: str
    html_url: str
    """The repository's web address (https://github.com/owner/name, or the Enterprise Server's)."""
    default_branch: str
    sender: str
    sender_type: str
    installation_id: int
    """0 when the delivery names no installation."""
    delivery_id: str


def _common(envelope: Envelope, source: Source) -> dict[str, Any]:
    return {**vars(envelope), "source": source}


def from_issue_comment(
    envelope: Envelope, *, issue_number: int, is_pull_request: bool, comment_id: int
) -> Origin:
    return Origin(
        **_common(envelope, "comment"),
        issue_number=issue_number,
        is_pull_request=is_pull_request,
        comment_id=comment_id,
        event_key=f"comment-{comment_id}",
    )


def from_issue_labeled(
    envelope: Envelope,
    *,
    issue_number: int,
    is_pull_request: bool,
    label: str | None,
    issue_id: int,
    labeled_at: str | None,
) -> Origin:
    # The issue's id is unique across repositories; adding the label updates the issue, so labelling
    # it again later is a new event.
    known = label and labeled_at and issue_id
    return Origin(
        **_common(envelope, "label"),
        issue_number=issue_number,
        is_pull_request=is_pull_request,
        event_key=f"label-{label}-{issue_id}-{labeled_at}" if known else None,
    )


def from_review(
    envelope: Envelope,
    *,
    pull_number: int,
    head_branch: str,
    head_sha: str,
    head_repository: str | None,
    review_id: int,
    comment_id: int | None = None,
) -> Origin:
    """A review (or one inline comment of it, `comment_id`) on a pull request; the pull request's head
    is in the delivery. Runs are named after the review or comment, so a redelivery starts nothing new.
    No 👀 goes on a review or a review comment (issue-comment reactions only)."""
    key = f"review-comment-{comment_id}" if comment_id is not None else f"review-{review_id}"
    return Origin(
        **_common(envelope, "review_comment" if comment_id is not None else "review"),
        issue_number=pull_number,
        is_pull_request=True,
        head_sha=head_sha,
        head_branch=head_branch,
        head_repository=head_repository,
        event_key=key,
    )


def from_check_run(envelope: Envelope, *, head_sha: str | None, run_annotations: Mapping[str, str]) -> Origin:
    """A Retry / Cancel button press on one of our check runs: the issue comes from the run it shows."""
    previous = from_annotations(run_annotations)
    return Origin(
        **_common(envelope, "check_run"),
        issue_number=int(previous.get("issue", "0")),
        is_pull_request=previous.get("pull-request") == "true",
        head_sha=head_sha or previous.get("head-sha"),
    )


def from_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    """The origin annotations of a run, keyed without the prefix."""
    return {
        key.removeprefix(ANNOTATION_PREFIX): value
        for key, value in annotations.items()
        if key.startswith(ANNOTATION_PREFIX)
    }


def from_run_page(run: Mapping[str, Any], login: str, request_id: str) -> Origin:
    """A Cancel / Retry button pressed on the run's own page by the signed-in `login`: the issue, the
    repository and the installation come from the run (its labels, spec and origin annotations)."""
    metadata = run["metadata"]
    previous = from_annotations(metadata.get("annotations") or {})
    labels = metadata.get("labels") or {}
    spec = run.get("spec") or {}
    return Origin(
        repository=previous.get("repository", ""),
        repository_id=int(labels.get(ANNOTATION_PREFIX + "repository-id", "0") or 0),
        ssh_url=str(spec.get("repositoryUrl", "")),
        html_url=previous.get("repository-html-url", ""),
        default_branch=str(spec.get("branch") or spec.get("sourceBranch") or ""),
        issue_number=int(previous.get("issue", "0")),
        is_pull_request=previous.get("pull-request") == "true",
        sender=login,
        sender_type="User",
        installation_id=int(previous.get("installation-id", "0")),
        delivery_id=request_id,
        source="run_page",
        head_sha=previous.get("head-sha"),
    )
