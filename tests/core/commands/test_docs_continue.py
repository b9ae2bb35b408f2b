"""`/docs --continue [what to do]`, and a bare `/docs` on a pull request a docs run produced: continue
that documentation on the pull request's branch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.commands import Accepted, parse
from bot.core.commands.code import CONTINUE
from bot.core.commands.continuation import ContinueArgs
from bot.core.commands.docs import DOCS, DOCS_CONTINUE, DocsArgs, plan_docs
from bot.core.commands.plan import CreateRun, Effect, PlanContext, Reply
from bot.core.origin import Origin
from bot.core.policy import Decision
from bot.core.taskconfig import TaskConfig
from tests.core.conftest import make_origin

from .conftest import CONTEXT
from .test_code_continue import produced as code_produced

BRANCH = "docs/docs-1111111111"
PR_URL = "https://github.com/demo-org/trader/pull/8"
ON_DOCS_PR = make_origin(
    is_pull_request=True,
    issue_number=8,
    head_branch=BRANCH,
    head_sha="b" * 40,
    head_repository="demo-org/trader",
    html_url="https://github.com/demo-org/trader",
    sender="carol",
    comment_id=3003,
    event_key="comment-3003",
)
DOCS_USAGE = "`/docs [--branch BRANCH] [--dir DIR] [--model MODEL]`"


def docs_produced(
    name: str = "docs-1111111111", phase: str = "Succeeded", attempt: str | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "kind": "DocsRun",
        "metadata": {
            "name": name,
            "namespace": "orchestrator",
            "creationTimestamp": "2026-12-03T10:00:00Z",
            "annotations": {"orchestrator.platform/attempt": attempt} if attempt else {},
        },
        "spec": {
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "workingDirectory": "services/trader",
            "sourceBranch": "main",
            "model": "claude-opus-4-20250514",
            "githubUser": "alice",
            **spec,
        },
        "status": {"phase": phase, "branch": BRANCH, "pullRequestUrl": PR_URL},
    }


def context(config: TaskConfig, runs: tuple[dict[str, Any], ...], origin: Origin = ON_DOCS_PR) -> PlanContext:
    return PlanContext(
        origin, config, "orchestrator", 0, secret=Decision(True, "ok"), runs_of_pull_request=runs
    )


@pytest.mark.parametrize(
    ("line", "prompt"),
    [
        pytest.param("/docs --continue cover the retry settings", "cover the retry settings", id="with text"),
        pytest.param("/docs --continue", None, id="without text"),
        pytest.param("/Docs --continue  keep it short ", "keep it short", id="uppercase, spaces"),
    ],
)
def test_the_continue_form_is_accepted(line: str, prompt: str | None) -> None:
    [accepted] = parse(line, CONTEXT).accepted
    assert isinstance(accepted, Accepted) and accepted.spec is DOCS_CONTINUE
    assert accepted.args == ContinueArgs(prompt_modification=prompt)


def test_help_and_usage_show_both_forms() -> None:
    assert DOCS.usages == (
        "/docs [--branch BRANCH] [--dir DIR] [--model MODEL]",
        "/docs --continue [what to do]",
    )


def expected_spec(previous: dict[str, Any], prompt: str | None) -> dict[str, Any]:
    spec = {**previous["spec"], "githubUser": "carol", "sourceBranch": BRANCH, "workBranch": BRANCH}
    return spec | ({"promptModification": prompt} if prompt else {})


def test_it_continues_the_latest_docs_run_on_the_pull_requests_branch(task_config: TaskConfig) -> None:
    earlier = docs_produced("docs-1111111111")
    latest = docs_produced("docs-2222222222", attempt="2", sourceBranch=BRANCH, workBranch=BRANCH)
    effect = DOCS_CONTINUE.plan(
        ContinueArgs(prompt_modification="cover retries"), context(task_config, (latest, earlier))
    )
    assert isinstance(effect, CreateRun)
    manifest = effect.manifest
    assert manifest["kind"] == "DocsRun"
    assert manifest["spec"] == expected_spec(latest, "cover retries")
    annotations = manifest["metadata"]["annotations"]
    assert annotations["orchestrator.platform/continues"] == "docs-2222222222"
    assert annotations["orchestrator.platform/attempt"] == "3"
    assert manifest["metadata"]["name"].startswith("docs-")
    again = DOCS_CONTINUE.plan(
        ContinueArgs(prompt_modification="cover retries"), context(task_config, (earlier, latest))
    )
    assert isinstance(again, CreateRun) and again.manifest == manifest  # a redelivery: the same run


def test_a_bare_docs_on_a_docs_pull_request_continues_it(task_config: TaskConfig) -> None:
    previous = docs_produced()
    effect = plan_docs(DocsArgs(), context(task_config, (previous,)))
    assert isinstance(effect, CreateRun)
    assert effect.manifest["spec"] == expected_spec(previous, None)
    assert effect.manifest["metadata"]["annotations"]["orchestrator.platform/continues"] == "docs-1111111111"


@pytest.mark.parametrize(
    ("args", "runs"),
    [
        pytest.param(DocsArgs(working_directory="docs"), (docs_produced(),), id="with options"),
        pytest.param(DocsArgs(), (), id="on a pull request no run produced"),
        pytest.param(DocsArgs(), (code_produced(),), id="on a code run's pull request"),
    ],
)
def test_otherwise_docs_starts_a_new_run(
    args: DocsArgs, runs: tuple[dict[str, Any], ...], task_config: TaskConfig
) -> None:
    effect = plan_docs(args, context(task_config, runs))
    assert isinstance(effect, CreateRun)
    assert "orchestrator.platform/continues" not in effect.manifest["metadata"]["annotations"]
    assert effect.manifest["spec"]["sourceBranch"] == BRANCH and "workBranch" not in effect.manifest["spec"]


def test_a_continued_docs_run_is_retried_with_its_branch_and_new_instructions(
    task_config: TaskConfig,
) -> None:
    from bot.core.runs import retry_run

    effect = DOCS_CONTINUE.plan(
        ContinueArgs(prompt_modification="cover retries"), context(task_config, (docs_produced(),))
    )
    assert isinstance(effect, CreateRun)
    failed = {**effect.manifest, "metadata": {**effect.manifest["metadata"], "namespace": "orchestrator"}}
    retried = retry_run(failed, replace(ON_DOCS_PR, sender="dave"), "and the timeouts")
    assert retried["spec"] == {
        **failed["spec"],
        "githubUser": "dave",
        "promptModification": "and the timeouts",
    }
    assert retried["metadata"]["annotations"]["orchestrator.platform/attempt"] == "3"


def _plan(
    spec_plan: Any, runs: tuple[dict[str, Any], ...], config: TaskConfig, origin: Origin = ON_DOCS_PR
) -> Effect:
    return spec_plan(ContinueArgs(prompt_modification="x"), context(config, runs, origin))


@pytest.mark.parametrize(
    ("plan", "runs", "origin", "expected"),
    [
        pytest.param(
            DOCS_CONTINUE.plan,
            (),
            replace(ON_DOCS_PR, is_pull_request=False, head_branch=None),
            Reply(
                "not a pull request",
                "@carol `/docs --continue` works on a pull request that a docs run produced: it continues "
                "that run's documentation on the pull request's branch. This is an issue.",
            ),
            id="on an issue",
        ),
        pytest.param(
            DOCS_CONTINUE.plan,
            (),
            ON_DOCS_PR,
            Reply(
                "no docs run produced this pull request",
                "@carol no run of mine produced this pull request, so there is nothing to continue. "
                "`/docs --continue` works on a pull request that a docs run produced: it continues that "
                f"run's documentation on the pull request's branch. To start a new run: {DOCS_USAGE}",
            ),
            id="a pull request no run produced",
        ),
        pytest.param(
            DOCS_CONTINUE.plan,
            (code_produced(),),
            ON_DOCS_PR,
            Reply(
                "no docs run produced this pull request",
                "@carol a code run of mine produced this pull request, not a docs run: `/code --continue` "
                "continues it. `/docs --continue` works on a pull request that a docs run produced: it "
                "continues that run's documentation on the pull request's branch. To start a new run: "
                f"{DOCS_USAGE}",
            ),
            id="a code run's pull request",
        ),
        pytest.param(
            CONTINUE.plan,
            (docs_produced(),),
            ON_DOCS_PR,
            "a docs run of mine produced this pull request, not a code run: `/docs --continue` continues it.",
            id="/code --continue on a docs run's pull request",
        ),
        pytest.param(
            DOCS_CONTINUE.plan,
            (docs_produced(), code_produced(phase="Running")),
            ON_DOCS_PR,
            Reply(
                "a run of this pull request is active",
                "@carol run `code-5-trader-0123456789` is still working on this pull request, and one run "
                "at a time works on a pull request: nothing was started. Ask again when it has finished.",
            ),
            id="any run still working on it",
        ),
    ],
)
def test_what_it_refuses_and_says(
    plan: Any,
    runs: tuple[dict[str, Any], ...],
    origin: Origin,
    expected: Reply | str,
    task_config: TaskConfig,
) -> None:
    effect = _plan(plan, runs, task_config, origin)
    assert isinstance(effect, Reply)
    if isinstance(expected, str):
        assert expected in effect.text
    else:
        assert effect == expected


def test_code_continue_keeps_its_own_form() -> None:
    [accepted] = parse("/code --continue add tests", CONTEXT).accepted
    assert accepted.spec is CONTINUE
