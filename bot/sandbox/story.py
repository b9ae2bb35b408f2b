"""How the demo tells its story: a printer (colour on a terminal, plain text elsewhere), the checks it
keeps, how a webhook answer reads in one line, and the agent's progress as the tracking comment shows
it (followed during the script, watched while the demo keeps running)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TextIO

from bot.sandbox.stack import Stack


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


def progress_part(body: str) -> str:
    """The part of a tracking comment that shows the agent's progress (result, checklist, activity)."""
    lines = body.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith(("**Result:**", "**Todos:**", "**So far:**"))),
        None,
    )
    if start is None:
        return ""
    end = next(
        (
            i
            for i, line in enumerate(lines)
            if i > start and line.startswith(("Comment `/", "**Why it failed", "<!--"))
        ),
        len(lines),
    )
    return "\n".join(lines[start:end]).strip()


def result_line(body: str) -> str:
    return next((line for line in body.splitlines() if line.startswith("**Result:**")), "no result shown")


async def watch_comments(out: Printer, stack: Stack) -> None:
    """While the demo keeps running: print each change of a tracking comment's progress."""
    shown: dict[int, str] = {}
    while True:
        for issue in (5, 7):
            for comment in stack.gh.comments(stack.scene.repo, issue):
                if comment["user"]["type"] != "Bot" or "orchestrator-run:" not in comment["body"]:
                    continue
                part = progress_part(comment["body"])
                if part and shown.get(comment["id"]) != part:
                    if comment["id"] in shown:
                        out.line(f"💬 #{issue}: the tracking comment {comment['id']} changed:")
                        out.block(part)
                    shown[comment["id"]] = part
        await asyncio.sleep(0.5)


async def follow_progress(
    out: Printer, stack: Stack, issue: int, name: str, within: float
) -> list[list[str]]:
    """Print the tracking comment's checklist and activity each time the bot edits them, until it
    shows the agent's result; the checklists seen."""
    marker = f"/{name} -->"
    seen: list[list[str]] = []
    shown = ""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        comments = stack.gh.comments(stack.scene.repo, issue)
        body = next((c["body"] for c in comments if c["user"]["type"] == "Bot" and marker in c["body"]), "")
        part = progress_part(body)
        if part and part != shown:
            shown = part
            out.line("💬 the tracking comment now shows:")
            out.block(part)
            items = [line for line in part.splitlines() if line.startswith("- ")]
            if items and (not seen or seen[-1] != items):
                seen.append(items)
        if "**Result:**" in part:
            break
        await asyncio.sleep(0.05)
    return seen
