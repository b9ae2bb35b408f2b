"""Echoed text renders as one code span showing exactly what was typed, and mentions nobody.

Each row is rendered by a CommonMark parser (markdown-it-py, what GitHub's Markdown extends): the
result must be one paragraph holding one `<code>` element whose text is the input (with `@` followed by
a zero-width joiner and line breaks shown as ⏎), so nothing in it became a tag, a link or markup.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from bot.core.markdown import LINE_BREAK_SIGN, ZERO_WIDTH_JOINER, code_span

RENDER = MarkdownIt("commonmark").enable("table").render
MENTION = re.compile(r"@[A-Za-z0-9]")

HOSTILE = [
    pytest.param("--model x", "--model x", id="plain"),
    pytest.param(
        "x` <img src=x> @org/team `y", "x` <img src=x> @\u200dorg/team `y", id="backticks around html"
    ),
    pytest.param("`", "`", id="one backtick"),
    pytest.param("``` ", "``` ", id="a fence and a space"),
    pytest.param("a ``` b `` c", "a ``` b `` c", id="runs of several lengths"),
    pytest.param("`start", "`start", id="starts with a backtick"),
    pytest.param("end`", "end`", id="ends with a backtick"),
    pytest.param(" padded ", " padded ", id="starts and ends with a space"),
    pytest.param("   ", "   ", id="only spaces"),
    pytest.param("", " ", id="empty"),
    pytest.param("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>", id="an img tag"),
    pytest.param("<!-- hidden -->", "<!-- hidden -->", id="an HTML comment"),
    pytest.param("[link](javascript:alert(1))", "[link](javascript:alert(1))", id="a javascript link"),
    pytest.param("![x](https://evil.example/p.png)", "![x](https://evil.example/p.png)", id="an image"),
    pytest.param("@org/team and @alice", "@\u200dorg/team and @\u200dalice", id="mentions"),
    pytest.param("**bold** _it_ #1 :smile:", "**bold** _it_ #1 :smile:", id="markup, a reference, an emoji"),
    pytest.param("a | b", "a | b", id="a table pipe"),
    pytest.param("a\n\n<img src=x>", "a⏎⏎<img src=x>", id="a blank line then html"),
    pytest.param("a\r\n# heading\rb", "a⏎# heading⏎b", id="CRLF and CR"),
    pytest.param("\\`x\\`", "\\`x\\`", id="backslashes"),
    pytest.param("&lt;b&gt;", "&lt;b&gt;", id="an entity"),
    pytest.param("right\u202eto left\x00", "right\ufffdto left\ufffd", id="bidi override and NUL"),
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_code_span_renders_the_text_literally(text: str, shown: str) -> None:
    rendered = RENDER(f"said: {code_span(text)} (end)")
    assert rendered == f"<p>said: <code>{html.escape(shown, quote=False)}</code> (end)</p>\n"


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_code_span_renders_literally_at_the_start_of_a_quote(text: str, shown: str) -> None:
    rendered = RENDER(f"> {code_span(text)}")
    assert rendered == f"<blockquote>\n<p><code>{html.escape(shown, quote=False)}</code></p>\n</blockquote>\n"


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_code_span_mentions_nobody(text: str, shown: str) -> None:
    assert not MENTION.search(code_span(text))


def test_the_neutralisers_are_the_documented_characters() -> None:
    assert code_span("@a\nb") == f"`@{ZERO_WIDTH_JOINER}a{LINE_BREAK_SIGN}b`"
