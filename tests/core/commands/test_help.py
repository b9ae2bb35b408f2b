"""`/help` and the registry it is generated from."""

from __future__ import annotations

import pytest

from bot.core.commands import COMMANDS, help_text, parse
from bot.core.commands.registry import BY_NAME

from .conftest import CONTEXT
from .helpers import accepted_args, rejection_reply


def test_help_is_accepted() -> None:
    assert accepted_args("/help") == ("help", {})


def test_help_with_arguments_is_rejected() -> None:
    assert rejection_reply("/help code") == (
        "@alice I could not run this command:\n\n> `/help code`\n\nUnexpected argument `code`.\n\nUsage: `/help`"
    )


def test_help_lists_every_registered_command_with_its_generated_usage() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert f"`{spec.usage}`" in text
        assert spec.summary in text


def test_registry_names_are_unique_and_lowercase() -> None:
    names = [spec.name for spec in COMMANDS]
    assert len(set(names)) == len(names)
    assert all(name == name.lower() for name in names)
    assert set(BY_NAME) == {"docs", "code", "cancel", "retry", "help"}


@pytest.mark.parametrize("body", ["/lgtm", "/cc @bob", "/assign me", "/approve", "/hold"])
def test_other_bots_commands_are_not_addressed_to_us(body: str) -> None:
    assert not parse(body, CONTEXT).addressed_to_us


def test_every_example_parses() -> None:
    for spec in COMMANDS:
        for example in spec.examples:
            parsed = parse(example, CONTEXT)
            assert [a.spec.name for a in parsed.accepted] == [spec.name], example


def test_a_comment_with_two_commands_yields_both_with_their_index() -> None:
    parsed = parse("/code 1 --service a\nsome text\n/code 2 --service b", CONTEXT)
    assert [(a.index, a.args.task_id) for a in parsed.accepted] == [(0, 1), (1, 2)]


def test_a_good_and_a_bad_line_are_judged_separately() -> None:
    parsed = parse("/code 1 --service a\n/code x --service b", CONTEXT)
    assert [a.line.number for a in parsed.accepted] == [1]
    assert [r.line.number for r in parsed.rejected] == [2]
