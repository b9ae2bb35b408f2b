from __future__ import annotations

from bot.core.commands import CommandContext
from bot.core.repositories import RepositoryRule

MODELS = ("claude-opus-4-20250514", "claude-sonnet-4-20250514")
OWNERS = ("demo-org", "org")
CONTEXT = CommandContext(MODELS, RepositoryRule("github.com", OWNERS))
