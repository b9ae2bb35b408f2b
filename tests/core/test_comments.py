"""Which lines of a comment are commands."""

from __future__ import annotations

import pytest

from bot.core.comments import CommandLine, command_lines

CASES = [
    pytest.param("/docs", [CommandLine(1, "/docs")], id="a bare command"),
    pytest.param(
        "please run\n/code 5 --service trader\nthanks",
        [CommandLine(2, "/code 5 --service trader")],
        id="in prose",
    ),
    pytest.param(
        "/docs\n/code 1 --service a",
        [CommandLine(1, "/docs"), CommandLine(2, "/code 1 --service a")],
        id="two commands",
    ),
    pytest.param("first line\r\n/docs\r\n", [CommandLine(2, "/docs")], id="CRLF second line"),
    pytest.param("   /docs  ", [CommandLine(1, "/docs")], id="up to three spaces of indent"),
    pytest.param("    /docs", [], id="indented code is not a command"),
    pytest.param("> /docs", [], id="quoted"),
    pytest.param(">> /code 5 --service x", [], id="nested quote"),
    pytest.param("```\n/docs\n```", [], id="inside a code fence"),
    pytest.param("~~~sh\n/docs\n~~~\n/help", [CommandLine(4, "/help")], id="after a tilde fence closes"),
    pytest.param(
        "````\n```\n/docs\n````\n/help",
        [CommandLine(5, "/help")],
        id="a longer fence is closed only by as long a fence",
    ),
    pytest.param("```\n/docs", [], id="unclosed fence hides the rest"),
    pytest.param("<!-- /docs -->", [], id="HTML comment"),
    pytest.param(
        "<!--\n/docs\n-->\n/help", [CommandLine(4, "/help")], id="multi-line HTML comment keeps line numbers"
    ),
    pytest.param("/help <!-- trailer -->", [CommandLine(1, "/help")], id="HTML-comment trailer"),
    pytest.param("see /docs please", [], id="not at the start of the line"),
    pytest.param("/ docs", [], id="slash then space"),
    pytest.param("/5", [], id="slash then digit"),
    pytest.param("https://example.com/docs", [], id="a URL"),
    pytest.param("", [], id="empty comment"),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_command_lines(body: str, expected: list[CommandLine]) -> None:
    assert command_lines(body) == expected
