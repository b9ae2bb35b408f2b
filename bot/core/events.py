"""Webhook payloads -> typed events holding only the fields the bot reads. Pure: bytes in, a value out.

A signed body is still input. Each event the webhook handles has one model, decoded straight from the
raw JSON bytes by msgspec; fields the bot does not read are skipped, never turned into Python objects.
A missing or mistyped field is a `Malformed` value naming it (`comment.body: expected a string, got an
integer`), answered 400 by the webhook, never an exception that would become a 500.

Why msgspec and not pydantic (both measured on the real 14 KB `issue_comment`, benchmarks/README.md):
it decodes these models in about half of pydantic's `model_validate_json` time (and a sixth of
`json.loads`); it is strict without configuration (`"5"` is not an integer); and it names the field even
when the wrong value is deeply nested (pydantic's parser gives up on the nesting first and reports a
byte position). Models are `msgspec.Struct`s: frozen, typed, and the handlers read attributes.

One model per event, for every action of it (checked against every `@octokit/webhooks-examples`
payload of each handled event): the router picks the handlers by `action` after decoding, and an action
nobody handles is answered without further work. A field only some actions carry, or one the bot can do
without, is optional. Identifiers are bounded to GitHub's 64-bit range so a huge integer is refused
here, not carried into run names and annotations.

The handlers pass plain values on to the core (`origin()` below builds an `Origin` from them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import msgspec

from bot.core.origin import (
    Envelope,
    Origin,
    from_check_run,
    from_issue_comment,
    from_issue_labeled,
    from_review,
)
from bot.core.resources import GITHUB_LOGIN

Id = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""GitHub's ids and numbers are 64-bit; anything larger is not GitHub's."""
FullName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", max_length=200)]
"""owner/name, in the characters GitHub allows in both."""
Login = Annotated[str, msgspec.Meta(pattern=GITHUB_LOGIN.removesuffix("$") + r"(\[bot\])?$", max_length=44)]
"""A user's or organization's login, or an App's bot account (`name[bot]`)."""


class _Model(msgspec.Struct, frozen=True, kw_only=True):
    """Unknown fields are skipped: GitHub adds fields all the time."""


# --- the parts events share --------------------------------------------------------------------------


class Repository(_Model, frozen=True, kw_only=True):
    """`full_name` must be owner/name (API paths are built from its two halves). The SSH URL and the
    default branch are checked where a run uses them: GitHub sends URLs such as
    `org-6811672@github.com:octo-org/octo-repo.git` (SSH certificate authorities) and branch names
    beyond what a run accepts, on repositories where most deliveries have nothing to do with runs."""

    id: Id
    full_name: FullName
    ssh_url: str
    html_url: str
    default_branch: str


class Account(_Model, frozen=True, kw_only=True):
    """A user, bot or organization (`sender`, an installation's `account`). Runs act as the sender,
    under its login (and the SSH secret named after it), so the login must have GitHub's form."""

    login: Login
    type: str = "User"


class InstallationRef(_Model, frozen=True, kw_only=True):
    id: Id


class Label(_Model, frozen=True, kw_only=True):
    name: str


class _Presence(_Model, frozen=True, kw_only=True):
    """An object whose presence is all the bot reads (an issue's `pull_request` link)."""


class Author(_Model, frozen=True, kw_only=True):
    """Who wrote an issue or a comment: compared with the sender, never used to act as anyone."""

    login: str = ""


class Issue(_Model, frozen=True, kw_only=True):
    """An issue, or the issue side of a pull request (`issues`, `issue_comment`, `pull_request`)."""

    id: Id
    number: Id
    body: str | None = None
    user: Author | None = None
    updated_at: str | None = None
    """When it was last changed (adding a label changes it); label runs are named after it."""
    pull_request: _Presence | None = None


class Comment(_Model, frozen=True, kw_only=True):
    id: Id
    body: str
    user: Author | None = None


class App(_Model, frozen=True, kw_only=True):
    id: Id


class CheckRun(_Model, frozen=True, kw_only=True):
    external_id: str | None = None
    head_sha: str | None = None
    app: App | None = None


class RequestedAction(_Model, frozen=True, kw_only=True):
    identifier: str | None = None


class _RepositoryEvent(_Model, frozen=True, kw_only=True):
    """What every repository event carries: who, where, and through which installation."""

    repository: Repository
    sender: Account
    installation: InstallationRef | None = None

    def envelope(self, delivery_id: str) -> Envelope:
        return Envelope(
            repository=self.repository.full_name,
            repository_id=self.repository.id,
            ssh_url=self.repository.ssh_url,
            html_url=self.repository.html_url,
            default_branch=self.repository.default_branch,
            sender=self.sender.login,
            sender_type=self.sender.type,
            installation_id=self.installation.id if self.installation is not None else 0,
            delivery_id=delivery_id,
        )


# --- the events ----------------------------------------------------------------------------------------


class IssueCommentEvent(_RepositoryEvent, frozen=True, kw_only=True):
    action: str
    issue: Issue
    comment: Comment

    def origin(self, delivery_id: str) -> Origin:
        return from_issue_comment(
            self.envelope(delivery_id),
            issue_number=self.issue.number,
            is_pull_request=self.issue.pull_request is not None,
            comment_id=self.comment.id,
        )


class _LabeledEvent(_RepositoryEvent, frozen=True, kw_only=True):
    """`issues` and `pull_request`: the bot acts on their `labeled` action."""

    action: str
    label: Label | None = None
    issue: Issue
    is_pull_request: ClassVar[bool] = False

    @property
    def label_name(self) -> str | None:
        return self.label.name if self.label is not None else None

    def origin(self, delivery_id: str) -> Origin:
        return from_issue_labeled(
            self.envelope(delivery_id),
            issue_number=self.issue.number,
            is_pull_request=self.is_pull_request or self.issue.pull_request is not None,
            label=self.label_name,
            issue_id=self.issue.id,
            labeled_at=self.issue.updated_at,
        )


class IssuesEvent(_LabeledEvent, frozen=True, kw_only=True):
    pass


class PullRequestEvent(_LabeledEvent, frozen=True, kw_only=True):
    issue: Issue = msgspec.field(name="pull_request")
    """The pull request, read for the fields it shares with an issue."""
    is_pull_request: ClassVar[bool] = True


class CheckRunEvent(_RepositoryEvent, frozen=True, kw_only=True):
    action: str
    check_run: CheckRun
    requested_action: RequestedAction | None = None

    def origin(self, delivery_id: str, run_annotations: Mapping[str, str]) -> Origin:
        return from_check_run(
            self.envelope(delivery_id), head_sha=self.check_run.head_sha, run_annotations=run_annotations
        )


class RepositoryRef(_Model, frozen=True, kw_only=True):
    full_name: str = ""


class PullRequestHead(_Model, frozen=True, kw_only=True):
    ref: str
    sha: str
    repo: RepositoryRef | None = None
    """None when the head repository (a fork) was deleted."""


class PullRequestRef(_Model, frozen=True, kw_only=True):
    number: Id
    head: PullRequestHead


class Review(_Model, frozen=True, kw_only=True):
    id: Id
    state: str
    """As webhooks spell it: approved, changes_requested, commented, dismissed."""
    body: str | None = None
    user: Author | None = None


class ReviewComment(_Model, frozen=True, kw_only=True):
    id: Id
    body: str
    user: Author | None = None
    path: str | None = None
    line: int | None = None


class _ReviewEvent(_RepositoryEvent, frozen=True, kw_only=True):
    action: str
    pull_request: PullRequestRef

    def _origin(self, delivery_id: str, review_id: int, comment_id: int | None) -> Origin:
        head = self.pull_request.head
        return from_review(
            self.envelope(delivery_id),
            pull_number=self.pull_request.number,
            head_branch=head.ref,
            head_sha=head.sha,
            head_repository=head.repo.full_name if head.repo is not None else None,
            review_id=review_id,
            comment_id=comment_id,
        )


class PullRequestReviewEvent(_ReviewEvent, frozen=True, kw_only=True):
    review: Review

    def origin(self, delivery_id: str) -> Origin:
        return self._origin(delivery_id, self.review.id, None)


class PullRequestReviewCommentEvent(_ReviewEvent, frozen=True, kw_only=True):
    comment: ReviewComment

    def origin(self, delivery_id: str) -> Origin:
        return self._origin(delivery_id, 0, self.comment.id)


class PingEvent(_Model, frozen=True, kw_only=True):
    zen: str
    hook_id: Id | None = None


class Installation(_Model, frozen=True, kw_only=True):
    id: Id
    account: Account | None = None


class InstallationEvent(_Model, frozen=True, kw_only=True):
    """`installation` and `installation_repositories`."""

    action: str
    installation: Installation


MODELS: dict[str, type[_Model]] = {
    "issue_comment": IssueCommentEvent,
    "issues": IssuesEvent,
    "pull_request": PullRequestEvent,
    "pull_request_review": PullRequestReviewEvent,
    "pull_request_review_comment": PullRequestReviewCommentEvent,
    "check_run": CheckRunEvent,
    "ping": PingEvent,
    "installation": InstallationEvent,
    "installation_repositories": InstallationEvent,
}
"""The events the webhook decodes, by `X-GitHub-Event`. Every other event is answered unread."""

_DECODERS = {name: msgspec.json.Decoder(model) for name, model in MODELS.items()}

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """One decoded delivery, as handlers receive it (the shape of gidgethub's `sansio.Event`)."""

    event: str
    delivery_id: str
    data: P

    @property
    def action(self) -> str | None:
        action: str | None = getattr(self.data, "action", None)
        return action


@dataclass(frozen=True)
class Malformed:
    """Why a signed body cannot be handled; `field` is the dotted path of the culprit, if one."""

    reason: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


def decode(event: str, body: bytes) -> Any | Malformed:
    """The body of an `event` delivery as its model (see `MODELS`), or why it cannot be.

    Never raises on any input: malformed JSON, a wrong shape, nesting too deep to follow and numbers
    too long to convert all come back as `Malformed`."""
    try:
        return _DECODERS[event].decode(body)
    except msgspec.ValidationError as exc:
        return _explain(str(exc))
    except msgspec.DecodeError as exc:
        return Malformed(
            f"body is not valid JSON: {_lower_first(str(exc).removeprefix('JSON is malformed: '))}"
        )
    except RecursionError:
        return Malformed("body is not valid JSON: nested too deeply")


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_EXPECTED = re.compile(r"`([^`]*)`")
_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "an array",
}


def _explain(text: str) -> Malformed:
    """msgspec's "Expected `str`, got `int` - at `$.comment.body`" as a field and a plain reason."""
    parts = _AT.match(text)
    assert parts is not None  # the pattern matches any text
    message, path = parts["message"], (parts["path"] or "").lstrip(".")
    missing = _MISSING.match(message)
    if missing:
        return Malformed("required field missing", ".".join(part for part in (path, missing["name"]) if part))
    reason = _EXPECTED.sub(lambda match: _type_words(match.group(1)), _lower_first(message))
    return Malformed(reason, path) if path else Malformed(f"body: {reason}")


def _type_words(names: str) -> str:
    return " or ".join(_TYPE_NAMES.get(name, f"`{name}`") for name in names.split(" | "))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
