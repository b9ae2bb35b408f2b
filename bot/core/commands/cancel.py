"""`/cancel`: stop the active runs started from this issue or pull request (or one named run)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core.commands.spec import CommandSpec, Positional
from bot.core.resources import RUN_NAME


class CancelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: str | None = Field(default=None, pattern=RUN_NAME)


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
)
