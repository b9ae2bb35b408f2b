"""A review that requests changes, as the prompt of the run that continues the pull request.

Pure: the webhook edge reads the review's inline comments through the API and passes them in. The
prompt is bounded (the run's `promptModification` is): what does not fit is named, not silently lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_REVIEW_PROMPT = 16_000


@dataclass(frozen=True)
class InlineComment:
    path: str
    line: int | None
    text: str

    def as_line(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        text = "\n    ".join(self.text.strip().splitlines()) or "(no text)"
        return f"- {where}: {text}"


def review_prompt(
    reviewer: str, body: str, comments: Sequence[InlineComment], limit: int = MAX_REVIEW_PROMPT
) -> str:
    """What the continuing agent is asked to do: the review's body and each inline comment as
    `path:line: text`, cut to `limit` characters with a note saying how much was left out."""
    lines = [f"@{reviewer} requested changes on this pull request. Address every point, then finish."]
    if body.strip():
        lines += ["", "Review:", body.strip()]
    if comments:
        lines += ["", "Inline comments:"]
    text = "\n".join(lines)
    if len(text) > limit:
        return (
            text[: limit - 80].rstrip()
            + "\n\n(The review is longer than this: read the rest on the pull request.)"
        )
    for index, comment in enumerate(comments):
        line = comment.as_line()
        left = len(comments) - index
        note = f"\n\n({left} more inline comment{'s' if left != 1 else ''} not shown: read them on the pull request.)"
        if len(text) + 1 + len(line) + len(note) > limit:
            return text + note
        text += "\n" + line
    return text
