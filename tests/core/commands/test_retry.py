"""`/retry`: a run name if the first word is one, and the rest of the line as free text."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.commands import parse

from .conftest import CONTEXT
from .helpers import accepted_args, rejection_reply


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("/retry", {}, id="last failed run here"),
        pytest.param("/retry code-5-trader-0123456789", {"run": "code-5-trader-0123456789"}, id="named run"),
        pytest.param(
            "/retry don't mock the database, use the test container",
            {"prompt_modification": "don't mock the database, use the test container"},
            id="free text with an apostrophe is not shell-split",
        ),
        pytest.param(
            "/retry code-5-trader-0123456789 try again with `make test`",
            {"run": "code-5-trader-0123456789", "prompt_modification": "try again with `make test`"},
            id="named run and text",
        ),
        pytest.param("/RETRY", {}, id="uppercase"),
    ],
)
def test_accepted(body: str, expected: dict[str, Any]) -> None:
    assert accepted_args(body) == ("retry", expected)


def test_text_over_the_limit_is_rejected() -> None:
    body = "/retry " + "x" * 4001
    assert rejection_reply(body) == (
        f"@alice I could not run this command:\n\n> `{body}`\n\n"
        "`--prompt "
        + "x"
        * 4001
        + "` is not valid: what to do differently must be at most 4000 characters.\n\n"
        "Usage: `/retry [run-name] [what to do differently]`"
    )


def test_near_miss_name_is_answered() -> None:
    [rejected] = parse("/retyr", CONTEXT).rejected
    assert rejected.problem == "Unknown command `/retyr`. Did you mean `/retry`?"
