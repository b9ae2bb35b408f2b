"""`/retry`: start a new run from the last failed one, with what to do differently."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core import runs
from bot.core.commands.plan import CreateRun, Effect, PlanContext, Reply, secret_reply
from bot.core.commands.spec import CommandSpec, Option, Positional
from bot.core.markdown import code_span
from bot.core.resources import RUN_NAME


class RetryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str | None = Field(default=None, pattern=RUN_NAME)
    prompt_modification: str | None = Field(default=None, max_length=4000)


def plan_retry(args: RetryArgs, context: PlanContext) -> Effect:
    failed = [
        run
        for run in context.runs_here
        if (run.get("status") or {}).get("phase") in ("Failed", "Cancelled")
        and (args.run is None or run["metadata"]["name"] == args.run)
    ]
    if not failed:
        which = f"{code_span(args.run)} is not a failed run" if args.run else "there is no failed run"
        text = f"@{context.origin.sender} {which} started from here, so there is nothing to retry."
        return Reply("nothing to retry", text)
    refused = secret_reply(context)
    if refused is not None:
        return refused
    return CreateRun(runs.retry_run(failed[-1], context.origin, args.prompt_modification))


RETRY = CommandSpec(
    name="retry",
    summary="Start a new run from the last failed one here (or the named run); the rest of the line "
    "is added to its prompt.",
    args_model=RetryArgs,
    positionals=(
        Positional(
            "run",
            "run-name",
            "the name of a run, such as `code-5-trader-1a2b3c4d5e`",
            required=False,
            pattern=RUN_NAME,
        ),
    ),
    free_text=Option("--prompt", "prompt_modification", "what to do differently", "at most 4000 characters"),
    examples=("/retry", "/retry the tests need a running database, start one first"),
    plan=plan_retry,
    needs=frozenset({"runs_here", "secret"}),
)
