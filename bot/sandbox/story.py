"""How the demo tells its story: a printer (colour on a terminal, plain text elsewhere), the checks it
keeps, and how a webhook answer reads in one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO


class Printer:
    """The story, with colour on a terminal and plain text elsewhere (NO_COLOR respected)."""

    def __init__(self, stream: TextIO, colour: bool) -> None:
        self.stream = stream
        self.colour = colour

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def title(self, text: str) -> None:
        print(self._paint("1", text), file=self.stream, flush=True)

    def step(self, number: int, text: str) -> None:
        print("\n" + self._paint("1;36", f"{number}. {text}"), file=self.stream, flush=True)

    def line(self, text: str, indent: int = 3) -> None:
        print(" " * indent + text, file=self.stream, flush=True)

    def block(self, text: str, indent: int = 6) -> None:
        for row in text.strip().splitlines():
            self.line(self._paint("2", "│ ") + row, indent)

    def good(self, text: str) -> str:
        return self._paint("32", text)

    def bad(self, text: str) -> str:
        return self._paint("31", text)


@dataclass
class Check:
    step: str
    expected: str
    observed: str
    ok: bool


def answer_of(body: str | None) -> str:
    try:
        answer = json.loads(body or "")
    except ValueError:
        return (body or "").strip()[:120]
    done = answer.get("done") or [answer.get("outcome") or answer.get("error") or ""]
    return "; ".join(str(item) for item in done)


def created_run(answer: str) -> str | None:
    for part in answer.split("; "):
        if part.startswith("created "):
            return part.split()[-1]
    return None


def without_marker(body: str) -> str:
    return "\n".join(line for line in body.splitlines() if not line.startswith("<!--"))
