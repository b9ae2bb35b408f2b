"""Who shares a CodeRun's workspace: one per repository and service and, by default, person."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.core.resources import CodeRunSpec
from bot.core.workspace import repository_identity, workspace

BASE: dict[str, Any] = {
    "taskId": 5,
    "service": "trader",
    "repositoryUrl": "git@github.com:demo-org/trader.git",
    "platformRepositoryUrl": "git@github.com:demo-org/platform.git",
    "branch": "main",
    "workingDirectory": ".",
    "model": "claude-sonnet-4-20250514",
    "githubUser": "alice",
}


def spec(**changes: Any) -> CodeRunSpec:
    return CodeRunSpec.model_validate({**BASE, **changes})


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:demo-org/trader.git",
        "git@github.com:Demo-Org/Trader",
        "ssh://git@github.com/demo-org/trader.git",
        "ssh://git@github.com:22/demo-org/trader",
        "https://github.com/demo-org/trader.git",
        "https://github.com/demo-org/trader",
    ],
)
def test_every_form_of_a_repository_url_names_the_same_repository(url: str) -> None:
    assert repository_identity(url) == "github.com/demo-org/trader"


def test_the_host_is_part_of_the_identity() -> None:
    assert repository_identity("git@ghe.example.com:demo-org/trader.git") == "ghe.example.com/demo-org/trader"


def test_two_repositories_with_one_service_and_two_users_of_one_repository_get_four_workspaces() -> None:
    runs = [
        spec(),
        spec(githubUser="mallory"),
        spec(repositoryUrl="git@github.com:mallory/tools.git"),
        spec(repositoryUrl="git@github.com:mallory/tools.git", githubUser="mallory"),
    ]
    names = {workspace(run, "user").claim_name for run in runs}
    assert len(names) == 4
    assert all(re.fullmatch(r"workspace-trader-[0-9a-f]{16}", name) for name in names)


def test_scope_repository_shares_between_users_but_never_between_repositories() -> None:
    alice, bob = workspace(spec(), "repository"), workspace(spec(githubUser="Bob"), "repository")
    other = workspace(spec(repositoryUrl="git@github.com:mallory/tools.git"), "repository")
    assert alice == bob
    assert alice.claim_name != other.claim_name
    assert alice.user is None
    assert "github-user" not in alice.labels


def test_the_user_part_is_case_insensitive_like_logins() -> None:
    assert workspace(spec(githubUser="Alice"), "user") == workspace(spec(), "user")


def test_labels_and_annotations_carry_the_parts() -> None:
    place = workspace(spec(), "user")
    assert place.labels == {
        "orchestrator.platform/workspace": place.digest,
        "service": "trader",
        "github-user": "alice",
    }
    assert place.annotations == {
        "orchestrator.platform/workspace-repository": "github.com/demo-org/trader",
        "orchestrator.platform/workspace-scope": "user",
    }
    assert place.key == "github.com/demo-org/trader|trader|alice"
