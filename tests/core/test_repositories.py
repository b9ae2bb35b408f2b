"""Repository URLs a command may name, and pull request links that belong to a run's repository."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.commands import command_context, parse
from bot.core.repositories import RepositoryAddress, pull_request_number, repository_address, web_host
from bot.core.taskconfig import TaskConfig, parse_task_config

from .conftest import BASE_ORIGIN, TASK_CONFIG_YAML


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "git@github.com:org/repo.git", RepositoryAddress("github.com", "org", "repo"), id="scp-like"
        ),
        pytest.param(
            "ssh://git@GitHub.com/org/repo", RepositoryAddress("github.com", "org", "repo"), id="ssh"
        ),
        pytest.param(
            "https://ghe.corp/Org/repo.git", RepositoryAddress("ghe.corp", "Org", "repo"), id="https"
        ),
        pytest.param("https://github.com:443/org/repo", None, id="a port"),
        pytest.param("ssh://git@github.com:22/org/repo", None, id="an ssh port"),
        pytest.param("https://github.com/org", None, id="no repository"),
        pytest.param("https://github.com/org/repo/tree/main", None, id="a deeper path"),
        pytest.param("https://user@github.com/org/repo", None, id="credentials"),
        pytest.param("http://github.com/org/repo", None, id="plain http"),
        pytest.param("git@github.com:-oProxyCommand=x/y", None, id="an option as owner"),
        pytest.param("file:///etc/passwd", None, id="a file"),
    ],
)
def test_repository_address(url: str, expected: RepositoryAddress | None) -> None:
    assert repository_address(url) == expected


def test_web_host_of_a_repository_page() -> None:
    assert web_host("https://GitHub.com/demo-org/trader") == "github.com"
    assert web_host("https://ghe.corp/demo-org/trader") == "ghe.corp"


OWN = "https://github.com/demo-org/trader"


@pytest.mark.parametrize(
    ("url", "repository_html_url", "expected"),
    [
        pytest.param(f"{OWN}/pull/7", OWN, 7, id="its own pull request"),
        pytest.param("https://GITHUB.com/Demo-Org/Trader/pull/12", OWN, 12, id="in another case"),
        pytest.param(
            "https://ghe.corp/demo-org/trader/pull/3", "https://ghe.corp/demo-org/trader", 3, id="GHES"
        ),
        pytest.param("https://evil.example/login/github/oauth", OWN, None, id="another host"),
        pytest.param("https://github.com/mallory/tools/pull/7", OWN, None, id="another repository"),
        pytest.param("https://github.com/demo-org/trader-fork/pull/7", OWN, None, id="a longer name"),
        pytest.param(f"{OWN}/pull/7/files", OWN, None, id="a page of it"),
        pytest.param(f"{OWN}/pull/7#x", OWN, None, id="with a fragment"),
        pytest.param(f"{OWN}/pull/0", OWN, None, id="number zero"),
        pytest.param(f"{OWN}/issues/7", OWN, None, id="an issue"),
        pytest.param(f"{OWN}/pull/7", None, None, id="the run's repository is unknown"),
        pytest.param(
            "http://github.com/demo-org/trader/pull/7", "http://github.com/demo-org/trader", None, id="http"
        ),
    ],
)
def test_pull_request_number(url: str, repository_html_url: str | None, expected: int | None) -> None:
    assert pull_request_number(url, repository_html_url) == expected


def _problem(config: TaskConfig, body: str, **origin: str) -> str:
    context = command_context(config, replace(BASE_ORIGIN, **origin))
    parsed = parse(body, context)
    return parsed.rejected[0].problem if parsed.rejected else ""


def test_without_allowed_owners_only_the_repositorys_own_owner_is_allowed(task_config: TaskConfig) -> None:
    assert (
        _problem(task_config, "/code 5 --service trader --platform-repo git@github.com:demo-org/tasks.git")
        == ""
    )
    assert "only repositories of `demo-org` can be used" in _problem(
        task_config, "/code 5 --service trader --platform-repo git@github.com:platform-org/tasks.git"
    )


def test_the_host_is_the_one_of_the_repository_the_command_came_from(task_config: TaskConfig) -> None:
    on_ghes = {"html_url": "https://ghe.corp/demo-org/trader", "repository": "demo-org/trader"}
    assert (
        _problem(
            task_config, "/code 5 --service trader --platform-repo git@ghe.corp:demo-org/t.git", **on_ghes
        )
        == ""
    )
    assert "this one is on `github.com`" in _problem(
        task_config, "/code 5 --service trader --platform-repo git@github.com:demo-org/t.git", **on_ghes
    )


def test_a_default_platform_repository_on_another_host_is_refused_at_the_command() -> None:
    config = parse_task_config(
        TASK_CONFIG_YAML
        + "defaults:\n  platformRepositoryUrl: git@github.com:platform-org/tasks.git\n"
        + "repositories:\n  allowedOwners: [platform-org]\n"
    )
    on_ghes = {"html_url": "https://ghe.corp/demo-org/trader"}
    assert _problem(config, "/code 5 --service trader") == ""
    assert _problem(config, "/code 5 --service trader", **on_ghes) == (
        "The default platform repository (`defaults.platformRepositoryUrl` in task-controller-config) is not "
        "allowed here: only repositories on `ghe.corp` can be used, and this one is on `github.com`. Give one "
        "with `--platform-repo`, or ask an admin to change the default."
    )
