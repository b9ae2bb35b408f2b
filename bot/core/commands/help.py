"""`/help`: reply with the usage of every command (generated from the registry)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.core.commands.spec import CommandSpec


class HelpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


HELP = CommandSpec(
    name="help",
    summary="Show this list of commands.",
    args_model=HelpArgs,
    examples=("/help",),
)
