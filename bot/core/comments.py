"""Comment text -> the lines that are addressed to the bot as commands.

A command is a line that starts with `/` and a letter (after at most three spaces, as Markdown allows).
Lines inside fenced code blocks, block quotes, indented code and HTML comments are not commands:
people quote and paste commands when they talk about them.

Text that GitHub does not show at first sight is only read when its author is the person whose action
starts the run (`trust_collapsed`). Otherwise — an issue's description when someone else adds the code
label — these lines are skipped as well:
- everything after the first collapsed or hidden element (`<details>`, and the elements whose content
  GitHub drops or never shows: `<script>`, `<style>`, `<template>`, `<textarea>`, ...). Not only its
  inside: whether GitHub really closes it depends on Markdown and HTML parsing (a `</details>` in a
  code span, after a table cell, ...), and a line read by mistake would run on someone else's key;
- lines that start inside a tag (an attribute value over several lines), a comment or a declaration,
  and everything after a tag that is never closed (HTML drops it with the rest of the text).
This errs on the side of skipping: a `<` in a code snippet can hide the lines after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMAND = re.compile(r"^ {0,3}(/[A-Za-z].*)$")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|\Z)", re.DOTALL)
_HIDING_ELEMENT = re.compile(
    r"<(details|script|style|template|noscript|textarea|title|iframe|object|embed|noembed|noframes|xmp"
    r"|plaintext|select|svg|math)(?=[\s/>]|\Z)",
    re.IGNORECASE,
)
_TAG_START = re.compile(r"</?[A-Za-z]")
# A start or end tag as the HTML tokenizer reads it: a name, then attributes whose quoted values may
# hold `>` and line breaks, up to the `>` that ends it. Possessive, so a tag that never ends costs one
# pass. HTML's whitespace is these four characters (line breaks are already `\n`), not Python's `\s`.
_TAG = re.compile(
    r"</?[A-Za-z][^ \t\n\f/>]*+"
    r"(?:[ \t\n\f/]++|=?[^ \t\n\f/>=]++(?:[ \t\n\f]*+=[ \t\n\f]*+(?:\"[^\"]*+\"|'[^']*+'|[^ \t\n\f>]++))?+)*+>"
)
_SCAN_BUDGET = 16
"""Characters of markup read per character of text, at most."""


@dataclass(frozen=True)
class CommandLine:
    number: int
    """1-based line number in the comment."""
    text: str
    """The command as typed, without surrounding whitespace."""


def command_lines(body: str, *, trust_collapsed: bool = False) -> list[CommandLine]:
    """`trust_collapsed`: the body's author is the person starting the run (see the module's doc)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    hidden = frozenset() if trust_collapsed else _hidden_lines(text)
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
        if command and number not in hidden:
            found.append(CommandLine(number, command.group(1).strip()))
    return found


def _hidden_lines(text: str) -> frozenset[int]:
    """Numbers of the lines that may be hidden on GitHub: after the first hiding element, or starting
    inside a tag, a comment or a declaration (read the way an HTML tokenizer reads them).

    Every `<` is looked at, also inside markup found before it (that markup may be literal text on
    GitHub, in a code span, and what is inside it real); so that overlapping markup cannot make this
    quadratic, reading more than a fixed multiple of the text hides the rest."""
    first_hiding = _HIDING_ELEMENT.search(text)
    cut = first_hiding.start() if first_hiding else len(text)
    budget = _SCAN_BUDGET * (len(text) + 1)
    covered: list[tuple[int, int]] = []  # merged, in order
    position = text.find("<")
    while 0 <= position < cut:
        end = _markup_end(text, position)
        if end is None or end - position > budget:
            cut = position  # never closed: HTML drops it and everything after it
            break
        budget -= end - position
        if covered and position < covered[-1][1]:
            covered[-1] = (covered[-1][0], max(covered[-1][1], end))
        else:
            covered.append((position, end))
        position = text.find("<", position + 1)
    hidden: set[int] = set()
    start, index = 0, 0
    for number, line in enumerate(text.split("\n"), start=1):
        while index < len(covered) and covered[index][1] <= start:
            index += 1
        if start > cut or (index < len(covered) and covered[index][0] < start):
            hidden.add(number)
        start += len(line) + 1
    return frozenset(hidden)


def _markup_end(text: str, start: int) -> int | None:
    """Just after the end of the markup that the `<` at `start` opens (`start + 1` if it opens none);
    None if it is never closed."""
    if text.startswith("<!--", start):
        end = text.find("-->", start + 4)
        return None if end < 0 else end + 3
    if _TAG_START.match(text, start):
        tag = _TAG.match(text, start)
        return tag.end() if tag else None
    if text.startswith(("<!", "<?", "</"), start) and not text.startswith("</>", start):
        end = text.find(">", start)  # a declaration, a processing instruction or a bogus comment
        return None if end < 0 else end + 1
    return start + 1
