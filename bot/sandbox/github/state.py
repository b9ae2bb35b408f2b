"""What the local GitHub knows: accounts, the App and its installations, repositories with branches and
collaborator roles, issues, pull requests, comments, reactions, check runs, tokens and webhook
deliveries. Plain records and lookups; the HTTP handlers decide what a request may change.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.github.auth import InstallationToken
from bot.sandbox.github.identity import stable_id, user_type_for

ROLES = ("none", "read", "triage", "write", "maintain", "admin")
DEFAULT_INSTALLATION_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "members": "read",
}
DEFAULT_INSTALLATION_EVENTS = ["check_run", "issue_comment", "issues", "pull_request"]


def random_sha() -> str:
    return hashlib.sha1(secrets.token_bytes(16), usedforsecurity=False).hexdigest()


@dataclass
class Account:
    """A user, a bot or an organization."""

    login: str
    id: int
    type: str


@dataclass(frozen=True)
class AppInfo:
    id: int
    slug: str
    name: str
    client_id: str
    owner: str
    created_at: float

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    account: str
    permissions: dict[str, str]
    events: list[str]
    created_at: float
    repository_selection: str = "selected"


@dataclass
class Repository:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    installation_id: int | None
    created_at: float
    branches: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # lower-cased login -> role
    commits: set[str] = field(default_factory=set)  # every SHA a branch or pull request pointed at

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> str:
        return self.full_name.lower()


@dataclass
class Issue:
    repo_key: str
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    is_pull: bool = False


@dataclass
class PullRequest:
    repo_key: str
    number: int
    id: int
    title: str
    body: str | None
    user: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    created_at: float
    updated_at: float
    state: str = "open"
    draft: bool = False
    maintainer_can_modify: bool = False


@dataclass
class Comment:
    id: int
    repo_key: str
    issue_number: int
    user: str
    body: str
    created_at: float
    updated_at: float
    via_app: bool = False


@dataclass
class Review:
    id: int
    repo_key: str
    pull_number: int
    user: str
    state: str
    """As the REST API spells it: APPROVED, CHANGES_REQUESTED, COMMENTED."""
    body: str
    commit_id: str
    submitted_at: float


@dataclass
class ReviewComment:
    """An inline comment of a review, on one line of one file."""

    id: int
    review_id: int
    repo_key: str
    pull_number: int
    user: str
    body: str
    path: str
    line: int
    commit_id: str
    created_at: float


@dataclass
class Reaction:
    id: int
    comment_id: int
    user: str
    content: str
    created_at: float


@dataclass
class CheckRun:
    id: int
    repo_key: str
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    external_id: str
    details_url: str | None
    started_at: float
    completed_at: float | None
    output: dict[str, Any]
    actions: list[dict[str, str]]
    suite_id: int


@dataclass
class DeliveryRecord:
    """One attempt to deliver a webhook, as `GET /app/hook/deliveries` reports it."""

    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    redelivery: bool
    delivered_at: float
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    duration: float = 0.0
    status: str = "pending"
    status_code: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""

    @property
    def payload(self) -> Any:
        """The body as JSON (None if it was not JSON)."""
        try:
            return json.loads(self.request_body)
        except ValueError:
            return None


class GitHubState:
    """Every record of the local GitHub, keyed the way GitHub looks them up."""

    def __init__(self, app: AppInfo, clock: Callable[[], float]) -> None:
        self.app = app
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repository] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self.pulls: dict[tuple[str, int], PullRequest] = {}
        self.comments: dict[int, Comment] = {}
        self.reviews: dict[int, Review] = {}
        self.review_comments: dict[int, ReviewComment] = {}
        self.reactions: dict[int, list[Reaction]] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.tokens: dict[str, InstallationToken] = {}
        self.deliveries: list[DeliveryRecord] = []
        self._counters: dict[str, Iterator[int]] = {
            "comment": itertools.count(1_100_000_001),
            "reaction": itertools.count(200_000_001),
            "check_run": itertools.count(30_000_000_001),
            "delivery": itertools.count(40_000_000_001),
            "review": itertools.count(2_000_000_001),
            "review-comment": itertools.count(1_500_000_001),
        }
        self.ensure_account(app.bot_login, "Bot")

    def next_id(self, kind: str) -> int:
        return next(self._counters[kind])

    # --- accounts and repositories ---------------------------------------------------------------

    def account(self, login: str) -> Account | None:
        return self.accounts.get(login.lower())

    def known_account(self, login: str) -> Account:
        """The account, or how GitHub would show an account nobody registered here (stable id)."""
        return self.account(login) or Account(login, stable_id("user", login), user_type_for(login))

    def ensure_account(self, login: str, account_type: str | None = None) -> Account:
        existing = self.account(login)
        if existing is not None:
            return existing
        account = Account(login, stable_id("user", login), account_type or user_type_for(login))
        self.accounts[login.lower()] = account
        return account

    def repo(self, owner: str, name: str) -> Repository | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def repo_by_key(self, key: str) -> Repository:
        return self.repos[key]

    def repos_of(self, installation_id: int) -> list[Repository]:
        return [repo for repo in self.repos.values() if repo.installation_id == installation_id]

    def role(self, repo: Repository, login: str) -> str:
        """The collaborator role of `login`; without a grant, `read` on public and `none` on private."""
        if login.lower() in repo.roles:
            return repo.roles[login.lower()]
        return "none" if repo.private else "read"

    # --- issues, pulls, comments ------------------------------------------------------------------

    def next_issue_number(self, repo: Repository) -> int:
        numbers = [number for key, number in self.issues if key == repo.key]
        return max(numbers, default=0) + 1

    def add_issue(
        self,
        repo: Repository,
        number: int,
        title: str,
        body: str | None,
        user: str,
        *,
        labels: list[str] | None = None,
        is_pull: bool = False,
    ) -> Issue:
        if (repo.key, number) in self.issues:
            raise ValueError(f"{repo.full_name}#{number} already exists")
        now = self.clock()
        issue = Issue(
            repo.key,
            number,
            stable_id("issue", f"{repo.full_name}#{number}"),
            title,
            body,
            user,
            now,
            now,
            labels=list(labels or []),
            is_pull=is_pull,
        )
        self.issues[(repo.key, number)] = issue
        return issue

    def add_pull(
        self,
        repo: Repository,
        number: int,
        title: str,
        body: str | None,
        user: str,
        *,
        head_ref: str,
        head_sha: str,
        base_ref: str,
        draft: bool = False,
        maintainer_can_modify: bool = False,
    ) -> PullRequest:
        self.add_issue(repo, number, title, body, user, is_pull=True)
        repo.commits.add(head_sha)
        now = self.clock()
        pull = PullRequest(
            repo.key,
            number,
            stable_id("pull", f"{repo.full_name}#{number}"),
            title,
            body,
            user,
            head_ref,
            head_sha,
            base_ref,
            repo.branches.get(base_ref, random_sha()),
            now,
            now,
            draft=draft,
            maintainer_can_modify=maintainer_can_modify,
        )
        self.pulls[(repo.key, number)] = pull
        return pull

    def add_comment(
        self, repo: Repository, issue_number: int, user: str, body: str, *, via_app: bool = False
    ) -> Comment:
        now = self.clock()
        comment = Comment(self.next_id("comment"), repo.key, issue_number, user, body, now, now, via_app)
        self.comments[comment.id] = comment
        self.issues[(repo.key, issue_number)].updated_at = now
        return comment

    def add_review(
        self,
        repo: Repository,
        pull_number: int,
        user: str,
        state: str,
        body: str,
        lines: list[tuple[str, int, str]],
    ) -> tuple[Review, list[ReviewComment]]:
        """A review submitted on the pull request's head, with its inline comments (path, line, text)."""
        pull = self.pulls[(repo.key, pull_number)]
        now = self.clock()
        review = Review(self.next_id("review"), repo.key, pull_number, user, state, body, pull.head_sha, now)
        self.reviews[review.id] = review
        comments = [
            ReviewComment(
                self.next_id("review-comment"),
                review.id,
                repo.key,
                pull_number,
                user,
                text,
                path,
                line,
                pull.head_sha,
                now,
            )
            for path, line, text in lines
        ]
        for comment in comments:
            self.review_comments[comment.id] = comment
        return review, comments

    def comments_on(self, repo: Repository, issue_number: int) -> list[Comment]:
        found = [
            c for c in self.comments.values() if c.repo_key == repo.key and c.issue_number == issue_number
        ]
        return sorted(found, key=lambda c: c.id)

    def comment_in(self, repo: Repository, comment_id: int) -> Comment | None:
        comment = self.comments.get(comment_id)
        return comment if comment is not None and comment.repo_key == repo.key else None

    def push_branch(self, repo: Repository, branch: str, sha: str | None = None) -> str:
        repo.branches[branch] = sha or random_sha()
        repo.commits.add(repo.branches[branch])
        for pull in self.pulls.values():
            if pull.repo_key == repo.key and pull.head_ref == branch and pull.state == "open":
                pull.head_sha = repo.branches[branch]
                pull.updated_at = self.clock()
        return repo.branches[branch]
