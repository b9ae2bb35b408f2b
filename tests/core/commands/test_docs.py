"""`/docs`: every accepted form and every rejection, with the exact reply."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import accepted_args, rejection_reply

USAGE = "Usage: `/docs [--branch BRANCH] [--dir DIR] [--model MODEL]`"

ACCEPTED = [
    pytest.param("/docs", {}, id="bare"),
    pytest.param("/Docs", {}, id="capitalised"),
    pytest.param("/docs --branch develop", {"branch": "develop"}, id="branch"),
    pytest.param("/docs --dir docs/api", {"working_directory": "docs/api"}, id="dir"),
    pytest.param("/docs --dir .", {"working_directory": "."}, id="dir dot"),
    pytest.param(
        "/docs --model claude-opus-4-20250514", {"model": "claude-opus-4-20250514"}, id="allowed model"
    ),
    pytest.param("/docs   --branch=main  ", {"branch": "main"}, id="extra spaces and option=value"),
]


@pytest.mark.parametrize(("body", "expected"), ACCEPTED)
def test_accepted(body: str, expected: dict[str, Any]) -> None:
    assert accepted_args(body) == ("docs", expected)


REJECTED = [
    pytest.param("/docs now", "Unexpected argument `now`.", id="unexpected argument"),
    pytest.param(
        "/docs --brnach main", "Unknown option `--brnach`. Did you mean `--branch`?", id="near-miss flag"
    ),
    pytest.param(
        "/docs --branch", "Option `--branch` needs a value: BRANCH (a git branch name).", id="missing value"
    ),
    pytest.param("/docs --dir a --dir b", "Option `--dir` was given more than once.", id="duplicate flag"),
    pytest.param(
        "/docs --dir a/../../etc",
        "`--dir a/../../etc` is not valid: DIR must be a relative path inside the repository, without `..`.",
        id="dotdot in dir",
    ),
    pytest.param(
        "/docs --model claude-3-haiku",
        "`--model claude-3-haiku` is not allowed here: choose one of `claude-opus-4-20250514`, `claude-sonnet-4-20250514`.",
        id="model not allowed",
    ),
    pytest.param(
        "/docs 'oops",
        "The line could not be split into arguments: no closing quotation.",
        id="unbalanced quote",
    ),
    pytest.param("/doc", "Unknown command `/doc`. Did you mean `/docs`?", id="near-miss name"),
    pytest.param(
        "/docs --contine more", "Unknown option `--contine`. Did you mean `--continue`?", id="near-miss form"
    ),
    pytest.param(
        "/docs --dir x --continue",
        "`--continue` comes first, right after `/docs`: `/docs --continue [what to do]`.",
        id="continue not first",
    ),
]


@pytest.mark.parametrize(("body", "problem"), REJECTED)
def test_rejected_with_exact_reply(body: str, problem: str) -> None:
    assert (
        rejection_reply(body) == f"@alice I could not run this command:\n\n> `{body}`\n\n{problem}\n\n{USAGE}"
    )
