"""`/retry`: start a new run from the last failed one, with what to do differently."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core.commands.spec import CommandSpec, Option, Positional
from bot.core.resources import RUN_NAME


class RetryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str | None = Field(default=None, pattern=RUN_NAME)
    prompt_modification: str | None = Field(default=None, max_length=4000)


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
)
