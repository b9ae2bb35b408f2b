"""Every command the bot understands, in one explicit tuple (no registration by import side effect)."""

from __future__ import annotations

from bot.core.commands.cancel import CANCEL
from bot.core.commands.code import CODE
from bot.core.commands.docs import DOCS
from bot.core.commands.help import HELP
from bot.core.commands.retry import RETRY
from bot.core.commands.spec import CommandSpec

COMMANDS: tuple[CommandSpec, ...] = (DOCS, CODE, CANCEL, RETRY, HELP)
BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}


def help_text() -> str:
    """The `/help` reply body: every command's usage, summary and examples."""
    sections = ["Commands (one per line, at the start of a new comment; you need write access):"]
    for command in COMMANDS:
        for spec in command.forms:
            examples = ", ".join(f"`{example}`" for example in spec.examples)
            sections.append(f"- `{spec.usage}`\n  {spec.summary} Examples: {examples}")
    return "\n".join(sections)
