"""Echoing what someone typed back into a GitHub comment, so that GitHub shows it as plain text.

Everything the bot repeats from a comment, an issue or a run (a command line, an invalid value, a run
name) goes through `code_span`. A value can then never close the code span it sits in (it is fenced
with a backtick run longer than any inside it), never end the paragraph (line breaks become a visible
`⏎`), and never mention anyone: GitHub does not link mentions inside code, and each `@` is followed by
a zero-width joiner as well, so that even a copy of the text pasted elsewhere pings nobody. Control
characters and the bidirectional overrides that can make text read differently than it is stored
become `�`.
"""

from __future__ import annotations

import re

_BACKTICK_RUN = re.compile(r"`+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
ZERO_WIDTH_JOINER = "\u200d"
LINE_BREAK_SIGN = "⏎"


def code_span(text: str) -> str:
    """`text` as one inline code span that renders literally on GitHub (see the module's docstring)."""
    inert = _UNSHOWABLE.sub("\ufffd", _LINE_BREAK.sub(LINE_BREAK_SIGN, text))
    inert = inert.replace("@", "@" + ZERO_WIDTH_JOINER)
    fence = "`" * (max((len(run) for run in _BACKTICK_RUN.findall(inert)), default=0) + 1)
    # A backtick at either end would join the fence, and CommonMark strips one space from each end of
    # a span that starts and ends with one (unless it is all spaces): pad both ends in those cases.
    if inert.strip(" ") and (inert[0] in "` " or inert[-1] in "` "):
        inert = f" {inert} "
    return f"{fence}{inert or ' '}{fence}"
