"""What an accepted command does, as a value: each command's pure `plan(args, context) -> Effect`.

A command declares what it needs to know beyond its arguments (`Need`); the webhook edge
(bot/intake.py) gathers exactly that, calls the plan, and carries the effect out: it has no branch
per command. Adding a command is one module and one line in the registry (STYLE §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.core.markdown import code_span
from bot.core.origin import Origin
from bot.core.policy import Decision
from bot.core.resources import RunKind
from bot.core.taskconfig import TaskConfig

Need = Literal["pull_request", "secret", "runs_here", "runs_of_pull_request"]
"""- pull_request: on a PR, its head (branch, commit, repository: forks are refused);
- secret: whether the sender has a complete SSH secret (runs act as the sender, or not at all);
- runs_here: the runs started from this issue or pull request, oldest first;
- runs_of_pull_request: on a PR, the runs that produced it (its URL in their status, or its head
  branch as their branch), oldest first."""


@dataclass(frozen=True)
class PlanContext:
    origin: Origin
    config: TaskConfig
    namespace: str
    index: int
    """The command's place among the comment's command lines (part of a new run's name)."""
    secret: Decision | None = None
    runs_here: tuple[dict[str, Any], ...] = ()
    runs_of_pull_request: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CreateRun:
    manifest: dict[str, Any]


@dataclass(frozen=True)
class RequestCancel:
    runs: tuple[tuple[RunKind, str], ...]
    by: str


@dataclass(frozen=True)
class Reply:
    summary: str
    """For the delivery's answer and the log ("nothing to cancel")."""
    text: str
    """What the sender is told on GitHub."""


Effect = CreateRun | RequestCancel | Reply


def fork_reply(origin: Origin) -> Reply | None:
    """Runs push to branches of the repository the command was given on; a fork's PR has none."""
    if origin.is_pull_request and origin.from_fork:
        return Reply(
            "refused fork",
            f"@{origin.sender} this pull request comes from a fork ({code_span(str(origin.head_repository))}); "
            "runs work on branches of this repository only.",
        )
    return None


def secret_reply(context: PlanContext) -> Reply | None:
    if context.secret is not None and not context.secret.allowed:
        return Reply(f"no SSH secret for {context.origin.sender}", context.secret.reason)
    return None
