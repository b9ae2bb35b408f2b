"""`/code --continue [what to do]`: continue the run that produced this pull request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.commands import Accepted, parse
from bot.core.commands.code import CONTINUE
from bot.core.commands.continuation import ContinueArgs
from bot.core.commands.plan import CreateRun, PlanContext, Reply
from bot.core.origin import Origin
from bot.core.policy import Decision
from bot.core.taskconfig import TaskConfig
from tests.core.conftest import make_origin

from .conftest import CONTEXT

PR_URL = "https://github.com/demo-org/trader/pull/7"
HAS_SECRET = Decision(True, "ok")
ON_PR = make_origin(
    is_pull_request=True,
    issue_number=7,
    head_branch="feature/task-5-trader",
    head_sha="a" * 40,
    head_repository="demo-org/trader",
    html_url="https://github.com/demo-org/trader",
    sender="carol",
    comment_id=2002,
    event_key="comment-2002",
)


def produced(name: str = "code-5-trader-0123456789", phase: str = "Succeeded", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "CodeRun",
        "metadata": {"name": name, "namespace": "orchestrator", "creationTimestamp": "2026-12-03T10:00:00Z"},
        "spec": {
            "taskId": 5,
            "service": "trader",
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "platformRepositoryUrl": "git@github.com:demo-org/trader.git",
            "branch": "main",
            "workingDirectory": "services/trader",
            "model": "claude-sonnet-4-20250514",
            "githubUser": "alice",
            "contextVersion": 1,
            **spec,
        },
        "status": {"phase": phase, "branch": "feature/task-5-trader", "pullRequestUrl": PR_URL},
    }


def plan(
    origin: Origin,
    runs: tuple[dict[str, Any], ...],
    config: TaskConfig,
    prompt: str | None = "add tests",
    secret: Decision | None = HAS_SECRET,
) -> CreateRun | Reply:
    context = PlanContext(origin, config, "orchestrator", 0, secret=secret, runs_of_pull_request=runs)
    effect = CONTINUE.plan(ContinueArgs(prompt_modification=prompt), context)
    assert isinstance(effect, CreateRun | Reply)
    return effect


@pytest.mark.parametrize(
    ("line", "prompt"),
    [
        pytest.param(
            "/code --continue add tests for the rounding", "add tests for the rounding", id="with text"
        ),
        pytest.param("/code --continue", None, id="without text"),
        pytest.param("/Code --continue  keep `main` green ", "keep `main` green", id="uppercase, spaces"),
    ],
)
def test_the_continue_form_is_accepted(line: str, prompt: str | None) -> None:
    [accepted] = parse(line, CONTEXT).accepted
    assert isinstance(accepted, Accepted) and accepted.spec is CONTINUE
    assert accepted.args == ContinueArgs(prompt_modification=prompt)


def test_the_other_form_keeps_its_continue_switch() -> None:
    [accepted] = parse("/code 5 --service trader --continue", CONTEXT).accepted
    assert accepted.spec is not CONTINUE and accepted.args.continue_session is True


def test_it_continues_the_latest_run_of_the_pull_request(task_config: TaskConfig) -> None:
    earlier = produced("code-5-trader-aaaaaaaaaa")
    latest = produced("code-5-trader-bbbbbbbbbb", contextVersion=2)
    effect = plan(ON_PR, (earlier, latest), task_config)
    assert isinstance(effect, CreateRun)
    manifest = effect.manifest
    assert manifest["spec"] | {} == {
        **latest["spec"],
        "githubUser": "carol",
        "contextVersion": 3,
        "continueSession": True,
        "branch": "feature/task-5-trader",
        "workBranch": "feature/task-5-trader",
        "promptModification": "add tests",
        "promptMode": "append",
        "toolConfig": "default",
        "overwriteMemory": False,
    }
    annotations = manifest["metadata"]["annotations"]
    assert annotations["orchestrator.platform/continues"] == "code-5-trader-bbbbbbbbbb"
    assert annotations["orchestrator.platform/issue"] == "7"
    assert manifest["metadata"]["name"].startswith("code-5-trader-")
    # The same event makes the same run: a redelivery is a 409.
    again = plan(ON_PR, (earlier, latest), task_config)
    assert isinstance(again, CreateRun) and again.manifest["metadata"]["name"] == manifest["metadata"]["name"]


@pytest.mark.parametrize(
    ("origin", "runs", "secret", "summary", "text"),
    [
        pytest.param(
            replace(ON_PR, is_pull_request=False, head_branch=None),
            (),
            Decision(True, "ok"),
            "not a pull request",
            "@carol `/code --continue` works on a pull request that a code run produced: it continues that "
            "run's session on the pull request's branch. This is an issue.",
            id="on an issue",
        ),
        pytest.param(
            ON_PR,
            (),
            Decision(True, "ok"),
            "no code run produced this pull request",
            "@carol no run of mine produced this pull request, so there is nothing to continue. `/code "
            "--continue` works on a pull request that a code run produced: it continues that run's session "
            "on the pull request's branch. To start a new run: `/code <task-id> --service SERVICE [--branch BRANCH] "
            "[--dir DIR] [--model MODEL] [--platform-repo URL] [--local-tools a,b] [--remote-tools x,y] "
            "[--prompt TEXT] [--continue] [--overwrite-memory]`",
            id="a pull request no run produced",
        ),
        pytest.param(
            ON_PR,
            (produced(phase="Running"),),
            Decision(True, "ok"),
            "a run of this pull request is active",
            "@carol run `code-5-trader-0123456789` is still working on this pull request, and one run at a "
            "time works on a pull request: nothing was started. Ask again when it has finished.",
            id="a run is still working on it",
        ),
        pytest.param(
            replace(ON_PR, head_repository="mallory/trader"),
            (produced(),),
            Decision(True, "ok"),
            "refused fork",
            "@carol this pull request comes from a fork (`mallory/trader`); runs work on branches of this "
            "repository only.",
            id="a fork",
        ),
        pytest.param(
            ON_PR,
            (produced(),),
            Decision(False, "no secret for carol"),
            "no SSH secret for carol",
            "no secret for carol",
            id="no SSH secret",
        ),
    ],
)
def test_what_it_refuses_and_says(
    origin: Origin,
    runs: tuple[dict[str, Any], ...],
    secret: Decision,
    summary: str,
    text: str,
    task_config: TaskConfig,
) -> None:
    assert plan(origin, runs, task_config, secret=secret) == Reply(summary, text)
