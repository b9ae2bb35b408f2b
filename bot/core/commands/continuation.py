"""Continuing a run on the pull request it produced: `/code --continue [what to do]`,
`/docs --continue [what to do]` (and a bare `/docs` on a pull request a DocsRun produced), and a
review that requests changes (bot/intake.py, with `iterateOnReviews`).

The new run pushes to the pull request's head branch, so no second pull request is opened; one run at
a time works on a pull request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.core import runs
from bot.core.commands.plan import CreateRun, Effect, PlanContext, Reply, fork_reply, secret_reply
from bot.core.commands.spec import CommandSpec, Option
from bot.core.markdown import code_span
from bot.core.resources import ACTIVE_PHASES, RunKind

COMMAND_OF: dict[RunKind, str] = {"CodeRun": "code", "DocsRun": "docs"}
WORDS: dict[RunKind, str] = {"CodeRun": "code run", "DocsRun": "docs run"}


class ContinueArgs(BaseModel):
    """`/<command> --continue [what to do]` on a pull request a run produced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_modification: str | None = Field(default=None, min_length=1, max_length=20_000)


def usage_note(kind: RunKind) -> str:
    what = "that run's session" if kind == "CodeRun" else "that run's documentation"
    return (
        f"`/{COMMAND_OF[kind]} --continue` works on a pull request that a {WORDS[kind]} produced: it "
        f"continues {what} on the pull request's branch."
    )


def plan_continuation(kind: RunKind, prompt: str | None, context: PlanContext, new_run_usage: str) -> Effect:
    """Continue the latest run of `kind` that produced this pull request, on its branch, with `prompt`
    as what to do. `new_run_usage` is shown when there is nothing to continue."""
    origin = context.origin
    sender = origin.sender
    if not origin.is_pull_request:
        return Reply("not a pull request", f"@{sender} {usage_note(kind)} This is an issue.")
    refused = fork_reply(origin)
    if refused is not None:
        return refused
    produced = context.runs_of_pull_request
    mine = [run for run in produced if run.get("kind") == kind]
    if not mine:
        other = next((run["kind"] for run in produced if run.get("kind") in COMMAND_OF), None)
        found = (
            f"a {WORDS[other]} of mine produced this pull request, not a {WORDS[kind]}: "
            f"`/{COMMAND_OF[other]} --continue` continues it."
            if other is not None
            else "no run of mine produced this pull request, so there is nothing to continue."
        )
        return Reply(
            f"no {WORDS[kind]} produced this pull request",
            f"@{sender} {found} {usage_note(kind)} To start a new run: `{new_run_usage}`",
        )
    busy = [run for run in produced if _phase(run) in ACTIVE_PHASES]
    if busy:
        name = busy[-1]["metadata"]["name"]
        return Reply(
            "a run of this pull request is active",
            f"@{sender} run {code_span(name)} is still working on this pull request, and one run at a time "
            "works on a pull request: nothing was started. Ask again when it has finished.",
        )
    refused = secret_reply(context)
    if refused is not None:
        return refused
    latest = runs.latest(mine)
    assert latest is not None  # `mine` is not empty
    return CreateRun(runs.continue_run(latest, origin, context.index, prompt, context.namespace))


def continuation_spec(
    kind: RunKind, summary: str, example: str, new_run_usage: Callable[[], str]
) -> CommandSpec:
    """The `--continue` form of the command that starts runs of `kind` (its variant)."""

    def plan(args: ContinueArgs, context: PlanContext) -> Effect:
        return plan_continuation(kind, args.prompt_modification, context, new_run_usage())

    return CommandSpec(
        name=COMMAND_OF[kind],
        summary=summary,
        args_model=ContinueArgs,
        form="--continue",
        free_text=Option("--continue", "prompt_modification", "what to do", "at most 20000 characters"),
        examples=(example,),
        plan=plan,
        needs=frozenset({"pull_request", "secret", "runs_of_pull_request"}),
    )


def _phase(run: dict[str, Any]) -> str:
    return str((run.get("status") or {}).get("phase", "Pending"))
