"""Comment text -> the lines that are addressed to the bot as commands.

A command is a line that starts with `/` and a letter (after at most three spaces, as Markdown allows).
Lines inside fenced code blocks, block quotes, indented code and HTML comments are not commands:
people quote and paste commands when they talk about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMAND = re.compile(r"^ {0,3}(/[A-Za-z].*)$")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|\Z)", re.DOTALL)


@dataclass(frozen=True)
class CommandLine:
    number: int
    """1-based line number in the comment."""
    text: str
    """The command as typed, without surrounding whitespace."""


def command_lines(body: str) -> list[CommandLine]:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    # Blank out HTML comments but keep their newlines so line numbers stay true.
    text = _HTML_COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    found: list[CommandLine] = []
    open_fence: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        fence = _FENCE.match(line)
        if open_fence is not None:
            if fence and fence.group(1)[0] == open_fence[0] and len(fence.group(1)) >= len(open_fence):
                open_fence = None
            continue
        if fence:
            open_fence = fence.group(1)
            continue
        command = _COMMAND.match(line)
        if command:
            found.append(CommandLine(number, command.group(1).strip()))
    return found
