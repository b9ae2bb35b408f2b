"""`/help`: reply with the usage of every command (generated from the registry)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.core.commands.plan import Effect, PlanContext, Reply
from bot.core.commands.spec import CommandSpec


class HelpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def plan_help(args: HelpArgs, context: PlanContext) -> Effect:
    from bot.core.commands.registry import help_text  # the registry lists this command too

    return Reply("help", f"@{context.origin.sender} {help_text()}")


HELP = CommandSpec(
    name="help",
    summary="Show this list of commands.",
    args_model=HelpArgs,
    examples=("/help",),
    plan=plan_help,
)
