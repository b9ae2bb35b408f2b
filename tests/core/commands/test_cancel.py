"""`/cancel`: every accepted form and every rejection, with the exact reply."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import accepted_args, rejection_reply

USAGE = "Usage: `/cancel [run-name]`"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("/cancel", {}, id="all active runs here"),
        pytest.param("/cancel code-5-trader-0123456789", {"run": "code-5-trader-0123456789"}, id="named run"),
        pytest.param("/cancel docs-0123456789", {"run": "docs-0123456789"}, id="named docs run"),
    ],
)
def test_accepted(body: str, expected: dict[str, Any]) -> None:
    assert accepted_args(body) == ("cancel", expected)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            "/cancel my-run",
            "`my-run` is not a valid run-name: it must be the name of a run, such as `code-5-trader-1a2b3c4d5e`.",
            id="not a run name",
        ),
        pytest.param("/cancel a b", "Unexpected argument `b`.", id="two names"),
        pytest.param("/cancel --all", "Unknown option `--all`.", id="unknown flag"),
        pytest.param("/cancle", "Unknown command `/cancle`. Did you mean `/cancel`?", id="near-miss name"),
    ],
)
def test_rejected_with_exact_reply(body: str, problem: str) -> None:
    assert (
        rejection_reply(body) == f"@alice I could not run this command:\n\n> `{body}`\n\n{problem}\n\n{USAGE}"
    )
