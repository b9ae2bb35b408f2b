from __future__ import annotations

from bot.core.commands import CommandContext

MODELS = ("claude-opus-4-20250514", "claude-sonnet-4-20250514")
CONTEXT = CommandContext(MODELS)
