"""Comment text -> accepted commands and rejections. Pure: never raises on user input, never calls out.

Command names are matched case-insensitively (phones capitalise the first letter); options are not.
A line that starts with `/` but names no command of ours, and is not a near miss, is not addressed to
us and is ignored (other bots use `/` commands too).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from bot.core.commands.code import CODE
from bot.core.commands.registry import BY_NAME, COMMANDS, help_text
from bot.core.commands.spec import Accepted, CommandContext, CommandSpec, Rejected, check_line
from bot.core.comments import CommandLine, command_lines
from bot.core.markdown import code_span
from bot.core.origin import Origin
from bot.core.repositories import RepositoryRule, web_host
from bot.core.taskconfig import TaskConfig

__all__ = [
    "COMMANDS",
    "Accepted",
    "CommandContext",
    "CommandSpec",
    "Parsed",
    "Rejected",
    "code_label_command",
    "command_context",
    "help_text",
    "parse",
]


@dataclass(frozen=True)
class Parsed:
    accepted: tuple[Accepted, ...] = field(default=())
    rejected: tuple[Rejected, ...] = field(default=())

    @property
    def addressed_to_us(self) -> bool:
        return bool(self.accepted or self.rejected)


def command_context(config: TaskConfig, origin: Origin) -> CommandContext:
    """What commands given on `origin`'s repository are checked against."""
    owners = config.repositories.allowed_owners
    return CommandContext(
        allowed_models=tuple(config.models.allowed),
        repositories=RepositoryRule(
            web_host=web_host(origin.html_url),
            allowed_owners=tuple(owners) if owners is not None else (origin.owner,),
        ),
        default_platform_repository_url=config.defaults.platform_repository_url,
    )


def parse(body: str, context: CommandContext, *, trust_collapsed: bool = False) -> Parsed:
    """`trust_collapsed`: the body's author is the person starting the run, so collapsed and hidden
    HTML is read too (see bot.core.comments)."""
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    for index, line in enumerate(command_lines(body, trust_collapsed=trust_collapsed)):
        name = line.text.split(None, 1)[0][1:]
        spec = BY_NAME.get(name.lower())
        if spec is not None:
            result = check_line(spec, line, index, context)
            if isinstance(result, Accepted):
                accepted.append(result)
            else:
                rejected.append(result)
        elif near_miss := _near_miss(name):
            rejected.append(_unknown(line, index, name, near_miss))
    return Parsed(tuple(accepted), tuple(rejected))


FROM_SOMEONE_ELSES_DESCRIPTION = frozenset({"task_id", "service"})
"""What the code label takes from an issue's description that the labeler did not write."""


def code_label_command(body: str, label: str, context: CommandContext, *, by_labeler: bool) -> Parsed:
    """What adding the code label starts: the first `/code` line of the issue's description that is
    valid, else the first one's rejection, else a rejection that says there is none.

    The run acts as the labeler, so when someone else wrote the description (`by_labeler` false) its
    collapsed and hidden HTML is not read, and only the task id and the service are taken from the
    line: the repositories, prompt, directory, branch, model and tools are the defaults. The tracking
    comment shows the command the run carries."""
    only = None if by_labeler else FROM_SOMEONE_ELSES_DESCRIPTION
    rejected: Rejected | None = None
    for index, line in enumerate(command_lines(body, trust_collapsed=by_labeler)):
        if line.text.split(None, 1)[0][1:].lower() != CODE.name:
            continue
        result = check_line(CODE, line, index, context, only)
        if isinstance(result, Accepted):
            return Parsed((result,))
        rejected = rejected or result
    if rejected is not None:
        return Parsed((), (rejected,))
    problem = f"The {code_span(label)} label runs the first `/code` line of the issue's description, and "
    problem += (
        "it has none."
        if by_labeler
        else "it has none that GitHub shows at first sight (in a description someone else wrote, nothing "
        "in or after a collapsed `<details>` or hidden HTML is read)."
    )
    return Parsed((), (Rejected(CommandLine(0, f"(label {label})"), 0, problem, CODE.usage),))


def _near_miss(name: str) -> str | None:
    close = difflib.get_close_matches(name.lower(), list(BY_NAME), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(line: CommandLine, index: int, name: str, near_miss: str) -> Rejected:
    problem = f"Unknown command {code_span('/' + name)}. Did you mean `/{near_miss}`?"
    return Rejected(line, index, problem, BY_NAME[near_miss].usage)
