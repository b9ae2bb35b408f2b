"""The tracking comment shows the command its run carries, generated from the run's spec."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from markdown_it import MarkdownIt

from bot.core import feedback
from bot.core.commands import parse
from bot.core.commands.code import CodeArgs
from bot.core.commands.docs import DocsArgs
from bot.core.origin import Origin
from bot.core.runs import code_run, docs_run
from bot.core.taskconfig import TaskConfig

from .commands.conftest import CONTEXT


def _run(body: str, origin: Origin, config: TaskConfig) -> dict[str, Any]:
    [accepted] = parse(body, CONTEXT).accepted
    if isinstance(accepted.args, CodeArgs):
        return code_run(accepted.args, origin, 0, config, "orchestrator")
    assert isinstance(accepted.args, DocsArgs)
    return docs_run(accepted.args, origin, 0, config, "orchestrator")


@pytest.mark.parametrize(
    ("body", "command"),
    [
        pytest.param(
            "/code 5 --service trader",
            "/code 5 --service trader --branch main --dir . --model claude-sonnet-4-20250514 "
            "--platform-repo git@github.com:demo-org/trader.git",
            id="code with its defaults filled in",
        ),
        pytest.param(
            "/code 5 --service trader --platform-repo git@github.com:org/tasks.git --local-tools fs,git "
            '--remote-tools github --prompt "don\'t touch `main`" --continue --overwrite-memory',
            "/code 5 --service trader --branch main --dir . --model claude-sonnet-4-20250514 "
            "--platform-repo git@github.com:org/tasks.git --local-tools fs,git --remote-tools github "
            "--prompt 'don'\"'\"'t touch `main`' --continue --overwrite-memory",
            id="code with every option",
        ),
        pytest.param(
            "/docs --dir docs", "/docs --branch main --dir docs --model claude-opus-4-20250514", id="docs"
        ),
    ],
)
def test_the_run_command_is_what_the_run_carries(
    body: str, command: str, origin: Origin, task_config: TaskConfig
) -> None:
    run = _run(body, origin, task_config)
    assert feedback.run_view(run).command == command
    assert _run(command, origin, task_config)["spec"] == run["spec"]  # and it asks for the same run


def test_the_tracking_comment_and_the_check_run_show_the_command_inert(
    origin: Origin, task_config: TaskConfig
) -> None:
    run = _run('/code 5 --service trader --prompt "x` <img src=x> @org/team `y"', origin, task_config)
    view = feedback.run_view(run)
    comment = feedback.tracking_comment(view)
    line = next(line for line in comment.splitlines() if line.startswith("Command: "))
    assert line == (
        "Command: ``/code 5 --service trader --branch main --dir . --model claude-sonnet-4-20250514 "
        "--platform-repo git@\u200dgithub.com:demo-org/trader.git "
        "--prompt 'x` <img src=x> @\u200dorg/team `y'``"
    )
    rendered = MarkdownIt("commonmark").render(line)
    assert "<img" not in rendered and rendered.count("<code>") == 1
    assert line in feedback.check_run_state(view)["output"]["summary"]


def _finished(
    origin: Origin, config: TaskConfig, message: str, *conditions: dict[str, str]
) -> dict[str, Any]:
    run = _run("/code 5 --service trader", origin, config)
    run["status"] = {"phase": "Succeeded", "message": message, "conditions": list(conditions)}
    return run


def test_a_run_that_changed_nothing_is_no_changes_not_a_success(
    origin: Origin, task_config: TaskConfig
) -> None:
    message = "The agent finished without changing anything: nothing to push."
    view = feedback.run_view(
        _finished(origin, task_config, message, {"type": "Succeeded", "reason": "NoChanges"})
    )
    comment = feedback.tracking_comment(view)
    assert comment.startswith("⚪ **code task-5 (trader)** is **finished with no changes**")
    assert f"**Result:** {message}" in comment
    check = feedback.check_run_state(view)
    assert check["conclusion"] == "neutral"
    assert check["output"]["title"] == "code task-5 (trader): finished with no changes"


def test_refused_tools_are_said_on_a_successful_run(origin: Origin, task_config: TaskConfig) -> None:
    note = "The agent was refused Bash 12\u00d7: check permissions.allow in task-controller-config."
    refused = {"type": "ToolsRefused", "reason": "PermissionDenied", "message": note}
    view = feedback.run_view(
        _finished(
            origin, task_config, "The agent finished and pushed `feature/task-5-trader`. " + note, refused
        )
    )
    assert note in feedback.tracking_comment(view)
    assert feedback.check_run_state(view)["conclusion"] == "success"


def test_a_plain_success_shows_no_result_line(origin: Origin, task_config: TaskConfig) -> None:
    view = feedback.run_view(_finished(origin, task_config, "The agent finished.", {"type": "Succeeded"}))
    assert "**Result:**" not in feedback.tracking_comment(view)


def test_a_queued_run_says_what_it_waits_for_and_how_to_leave_the_queue(
    origin: Origin, task_config: TaskConfig
) -> None:
    run = _run("/code 5 --service trader", origin, task_config)
    waiting = "Waiting for run `code-5-trader-aaaaaaaaaa` to finish: one agent at a time works in a workspace (position 1 in line)."
    run["status"] = {"phase": "Queued", "message": waiting}
    view = feedback.run_view(run)
    comment = feedback.tracking_comment(view)
    assert comment.startswith("⏳ **code task-5 (trader)** is **queued**")
    assert waiting in comment and "Comment `/cancel` to take it out of the queue." in comment
    check = feedback.check_run_state(view)
    assert check["status"] == "queued"
    assert [a["identifier"] for a in check["actions"]] == ["cancel"]


def test_the_run_a_queued_run_waits_for_links_to_that_runs_tracking_comment(
    origin: Origin, task_config: TaskConfig
) -> None:
    ahead = _run("/code 5 --service trader", origin, task_config)
    assert feedback.tracking_comment_url(ahead) is None  # not posted yet: the name stays plain
    ahead["metadata"]["annotations"][feedback.TRACKING_COMMENT_ID] = "4711"
    url = feedback.tracking_comment_url(ahead)
    assert url == f"{origin.html_url}/issues/{origin.issue_number}#issuecomment-4711"

    queued = _run("/code 6 --service trader", origin, task_config)
    name = ahead["metadata"]["name"]
    message = (
        f"Waiting for run `{name}` to finish: one agent at a time works in a workspace (position 1 in line)."
    )
    queued["status"] = {"phase": "Queued", "message": message, "waitingFor": name}
    view = replace(feedback.run_view(queued), waiting_for_comment=url)
    html = MarkdownIt("commonmark").render(feedback.tracking_comment(view))
    assert f'Waiting for run <a href="{url}"><code>{name}</code></a> to finish' in html
    assert f'<a href="{url}">' in MarkdownIt("commonmark").render(
        feedback.check_run_state(view)["output"]["summary"]
    )
    # Once it runs, what it waited for is no longer shown.
    queued["status"] = {"phase": "Running", "message": "The agent is working.", "waitingFor": name}
    assert feedback.run_view(queued).waiting_for is None


@pytest.mark.parametrize(
    ("kind", "prompt", "command"),
    [
        pytest.param("CodeRun", "add tests", "/code --continue add tests", id="code"),
        pytest.param("DocsRun", None, "/docs --continue", id="docs, no instructions"),
        pytest.param(
            "DocsRun",
            "@bob requested changes.\n\nReview:\n" + "x" * 300,
            "/docs --continue @bob requested changes. Review: " + "x" * 167 + "…",
            id="a review's instructions, on one line and cut",
        ),
    ],
)
def test_a_continuation_shows_the_form_that_continues_a_pull_request(
    kind: str, prompt: str | None, command: str
) -> None:
    spec = {"workBranch": "docs/docs-1111111111", **({"promptModification": prompt} if prompt else {})}
    shown = feedback.run_command(kind, spec)
    assert shown == command
    assert len(shown) <= len("/docs --continue ") + feedback.CONTINUATION_SHOWN
