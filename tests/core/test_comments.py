"""Which lines of a comment are commands, and which of them only count when the comment's author is
the person starting the run (collapsed and hidden HTML)."""

from __future__ import annotations

import time

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


@pytest.mark.parametrize("trust_collapsed", [True, False], ids=["author", "someone else"])
@pytest.mark.parametrize(("body", "expected"), CASES)
def test_command_lines(body: str, expected: list[CommandLine], trust_collapsed: bool) -> None:
    assert command_lines(body, trust_collapsed=trust_collapsed) == expected


DETAILS = "<details><summary>logs</summary>\n\n/code 5 --service payments\n\n</details>"

# (body, lines read when its author starts the run, lines read when someone else does)
COLLAPSED = [
    pytest.param(DETAILS, [3], [], id="inside details"),
    pytest.param("/help\n" + DETAILS, [1, 4], [1], id="before details is read"),
    pytest.param(DETAILS + "\n\n/help", [3, 7], [], id="nothing after the first details is read"),
    pytest.param(
        "<details>\n\n`</details>`\n\n/docs", [5], [], id="a closing tag in a code span closes nothing"
    ),
    pytest.param("<DETAILS open>\n/docs\n</DETAILS>", [2], [], id="uppercase, open"),
    pytest.param("text <details>\n/docs", [2], [], id="details in the middle of a line"),
    pytest.param("<!-- <details> -->\n/docs", [2], [], id="details in an HTML comment"),
    pytest.param("```\n<details>\n```\n/docs", [4], [], id="details in a code fence"),
    pytest.param("<script>\n/docs\n</script>", [2], [], id="script"),
    pytest.param("<style>x</style>\n/docs", [2], [], id="style"),
    pytest.param("<template>\n/docs", [2], [], id="template"),
    pytest.param("<textarea>\n/docs\n</textarea>", [2], [], id="textarea"),
    pytest.param('<img alt="\n/docs\n">\n/help', [2, 4], [4], id="inside an attribute value"),
    pytest.param("<img alt='a > b\n/docs\n'>", [2], [], id="a > inside a quoted value"),
    pytest.param("a<b\n/docs", [2], [], id="a tag that never ends hides the rest"),
    pytest.param("<b>bold</b> and <i\n>x</i>\n/docs", [3], [3], id="tags that end are fine"),
    pytest.param("<?\n/docs\n?>", [2], [], id="processing instruction"),
    pytest.param("<!X\n/docs\n>\n/help", [2, 4], [4], id="declaration"),
    pytest.param("</ x\n/docs\n>\n/help", [2, 4], [4], id="bogus comment"),
    pytest.param(
        "`<!--` <img alt='\n-->\n/docs\n'>\n/help",
        [3, 5],
        [5],
        id="a tag inside what looks like a comment",
    ),
    pytest.param(
        "`<a title=\"` <img alt='\n\">\n/docs\n'>\n/help",
        [3, 5],
        [5],
        id="a tag inside what looks like a tag",
    ),
    pytest.param("</>\n/docs", [2], [2], id="an empty end tag is nothing"),
    pytest.param("x < y\n/docs", [2], [2], id="a less-than sign"),
]


@pytest.mark.parametrize(("body", "by_author", "by_someone_else"), COLLAPSED)
def test_collapsed_and_hidden_html_is_read_only_for_its_author(
    body: str, by_author: list[int], by_someone_else: list[int]
) -> None:
    assert [line.number for line in command_lines(body, trust_collapsed=True)] == by_author
    assert [line.number for line in command_lines(body, trust_collapsed=False)] == by_someone_else


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("<a" * 32_000 + ">\n/docs", [], id="overlapping tags: the reading budget runs out"),
        pytest.param("<!" * 32_000 + ">\n/docs", [], id="overlapping declarations"),
        pytest.param("<a>\n" * 16_000 + "/docs", [CommandLine(16_001, "/docs")], id="many tags that end"),
    ],
)
def test_hostile_markup_is_read_in_linear_time(body: str, expected: list[CommandLine]) -> None:
    started = time.perf_counter()
    assert command_lines(body, trust_collapsed=False) == expected
    assert time.perf_counter() - started < 2.0  # quadratic reading would take minutes
