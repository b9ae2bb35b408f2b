"""`/cancel`: stop the active runs started from this issue or pull request (or one named run)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core.commands.plan import Effect, PlanContext, Reply, RequestCancel
from bot.core.commands.spec import CommandSpec, Positional
from bot.core.markdown import code_span
from bot.core.resources import ACTIVE_PHASES, RUN_NAME


class CancelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str | None = Field(default=None, pattern=RUN_NAME)


def plan_cancel(args: CancelArgs, context: PlanContext) -> Effect:
    candidates = [
        run
        for run in context.runs_here
        if (run.get("status") or {}).get("phase", "Pending") in ACTIVE_PHASES
        and (args.run is None or run["metadata"]["name"] == args.run)
    ]
    sender = context.origin.sender
    if not candidates:
        which = f"{code_span(args.run)} is not an active run" if args.run else "there is no active run"
        return Reply(
            "nothing to cancel", f"@{sender} {which} started from here, so there is nothing to cancel."
        )
    return RequestCancel(tuple((run["kind"], run["metadata"]["name"]) for run in candidates), sender)


CANCEL = CommandSpec(
    name="cancel",
    summary="Stop the active runs started from this issue or pull request, or only the named run.",
    args_model=CancelArgs,
    positionals=(
        Positional(
            "run", "run-name", "the name of a run, such as `code-5-trader-1a2b3c4d5e`", required=False
        ),
    ),
    examples=("/cancel", "/cancel code-5-trader-1a2b3c4d5e"),
    plan=plan_cancel,
    needs=frozenset({"runs_here"}),
)
