"""`/cancel`: every accepted form and every rejection, with the exact reply."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.commands.cancel import CancelArgs, plan_cancel
from bot.core.commands.plan import Effect, PlanContext, Reply, RequestCancel
from bot.core.taskconfig import TaskConfig
from tests.core.conftest import make_origin

from .helpers import accepted_args, rejection_reply

USAGE = "Usage: `/cancel [run-name]`"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("/cancel", {}, id="all active runs here"),
        pytest.param("/cancel code-5-trader-0123456789", {"run": "code-5-trader-0123456789"}, id="named run"),
        pytest.param("/cancel docs-0123456789", {"run": "docs-0123456789"}, id="named docs run"),
    ],
)
def test_accepted(body: str, expected: dict[str, Any]) -> None:
    assert accepted_args(body) == ("cancel", expected)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            "/cancel my-run",
            "`my-run` is not a valid run-name: it must be the name of a run, such as `code-5-trader-1a2b3c4d5e`.",
            id="not a run name",
        ),
        pytest.param("/cancel a b", "Unexpected argument `b`.", id="two names"),
        pytest.param("/cancel --all", "Unknown option `--all`.", id="unknown flag"),
        pytest.param("/cancle", "Unknown command `/cancle`. Did you mean `/cancel`?", id="near-miss name"),
    ],
)
def test_rejected_with_exact_reply(body: str, problem: str) -> None:
    assert (
        rejection_reply(body) == f"@alice I could not run this command:\n\n> `{body}`\n\n{problem}\n\n{USAGE}"
    )


def _run(name: str, phase: str) -> dict[str, Any]:
    return {"kind": "CodeRun", "metadata": {"name": name}, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("args", "runs", "expected"),
    [
        pytest.param(
            CancelArgs(),
            (_run("code-5-trader-aaaaaaaaaa", "Running"), _run("code-6-trader-bbbbbbbbbb", "Succeeded")),
            RequestCancel((("CodeRun", "code-5-trader-aaaaaaaaaa"),), "alice"),
            id="every active run here",
        ),
        pytest.param(
            CancelArgs(run="code-6-trader-bbbbbbbbbb"),
            (_run("code-5-trader-aaaaaaaaaa", "Running"), _run("code-6-trader-bbbbbbbbbb", "Queued")),
            RequestCancel((("CodeRun", "code-6-trader-bbbbbbbbbb"),), "alice"),
            id="the named run, queued",
        ),
        pytest.param(
            CancelArgs(),
            (_run("code-5-trader-aaaaaaaaaa", "Failed"),),
            Reply(
                "nothing to cancel",
                "@alice there is no active run started from here, so there is nothing to cancel.",
            ),
            id="nothing active",
        ),
        pytest.param(
            CancelArgs(run="code-5-trader-aaaaaaaaaa"),
            (_run("code-5-trader-aaaaaaaaaa", "Succeeded"),),
            Reply(
                "nothing to cancel",
                "@alice `code-5-trader-aaaaaaaaaa` is not an active run started from here, so there is "
                "nothing to cancel.",
            ),
            id="the named run has finished",
        ),
    ],
)
def test_what_cancel_does(
    args: CancelArgs, runs: tuple[dict[str, Any], ...], expected: Effect, task_config: TaskConfig
) -> None:
    context = PlanContext(make_origin(sender="alice"), task_config, "orchestrator", 0, runs_here=runs)
    assert plan_cancel(args, context) == expected
