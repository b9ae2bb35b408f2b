"""The demo scene: one organization with the App installed, a service repository, people with
different roles, an issue and an open pull request. Used by `github-api --demo` and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.sandbox.github.api import LocalGitHubAPI
from bot.sandbox.github.identity import RepoRef

DEMO_ORG = "demo-org"
DEMO_INSTALLATION_ID = 1
DEMO_ROLES = {"alice": "write", "carol": "maintain", "erin": "admin", "bob": "read", "dave": "triage"}


@dataclass(frozen=True)
class DemoScene:
    installation_id: int
    repo: RepoRef
    platform_repo: RepoRef
    issue_number: int
    pull_number: int
    roles: dict[str, str] = field(default_factory=dict)


def seed_demo(gh: LocalGitHubAPI) -> DemoScene:
    """Preload `gh` with the demo scene and return what it contains."""
    gh.add_installation(DEMO_INSTALLATION_ID, DEMO_ORG)
    repo = gh.add_repo(f"{DEMO_ORG}/trader", "main", installation_id=DEMO_INSTALLATION_ID)
    platform = gh.add_repo(f"{DEMO_ORG}/platform", "main", installation_id=DEMO_INSTALLATION_ID)
    for login, role in DEMO_ROLES.items():
        gh.set_permission(repo, login, role)
        gh.set_permission(platform, login, role)
    gh.add_user("mallory")
    gh.add_user("dependabot[bot]")
    gh.add_issue(
        repo,
        5,
        title="Task 5: order book for the trader service",
        body="/code 5 --service trader",
        user="alice",
    )
    gh.add_pull(repo, 7, head_ref="feature/order-book", user="alice", title="Order book", body="First cut.")
    return DemoScene(DEMO_INSTALLATION_ID, repo, platform, 5, 7, dict(DEMO_ROLES))
