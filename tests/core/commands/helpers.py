"""Table helpers: parse one comment, expect one accepted command or one exact reply."""

from __future__ import annotations

from typing import Any

from bot.core.commands import parse

from .conftest import CONTEXT


def accepted_args(body: str) -> tuple[str, dict[str, Any]]:
    parsed = parse(body, CONTEXT)
    assert parsed.rejected == (), parsed.rejected[0].reply("alice") if parsed.rejected else ""
    [accepted] = parsed.accepted
    return accepted.spec.name, accepted.args.model_dump(exclude_defaults=True)


def rejection_reply(body: str) -> str:
    parsed = parse(body, CONTEXT)
    assert parsed.accepted == ()
    [rejected] = parsed.rejected
    return rejected.reply("alice")
