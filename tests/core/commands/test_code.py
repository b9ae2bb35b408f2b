"""`/code`: every accepted form and every rejection, with the exact reply."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import accepted_args, rejection_reply

ZWJ = "\u200d"
"""Echoed `@` is followed by a zero-width joiner (bot.core.markdown)."""

USAGE = (
    "Usage: `/code <task-id> --service SERVICE [--branch BRANCH] [--dir DIR] [--model MODEL] "
    "[--platform-repo URL] [--local-tools a,b] [--remote-tools x,y] [--prompt TEXT] [--continue] "
    "[--overwrite-memory]`"
)

ACCEPTED = [
    pytest.param("/code 5 --service trader", {"task_id": 5, "service": "trader"}, id="minimal"),
    pytest.param("/code --service trader 5", {"task_id": 5, "service": "trader"}, id="option before task id"),
    pytest.param("/code 5 --service=trader", {"task_id": 5, "service": "trader"}, id="option=value"),
    pytest.param("/CODE 5 --service trader", {"task_id": 5, "service": "trader"}, id="uppercase name"),
    pytest.param("/Code 5 --service trader", {"task_id": 5, "service": "trader"}, id="capitalised name"),
    pytest.param(
        "/code 12 --service api --branch release/1.2 --dir services/api --model claude-sonnet-4-20250514",
        {
            "task_id": 12,
            "service": "api",
            "branch": "release/1.2",
            "working_directory": "services/api",
            "model": "claude-sonnet-4-20250514",
        },
        id="branch dir model",
    ),
    pytest.param(
        "/code 3 --service trader --platform-repo git@github.com:org/platform.git",
        {"task_id": 3, "service": "trader", "platform_repository_url": "git@github.com:org/platform.git"},
        id="platform repo",
    ),
    pytest.param(
        "/code 3 --service trader --platform-repo https://GitHub.com/Demo-Org/tasks.git",
        {
            "task_id": 3,
            "service": "trader",
            "platform_repository_url": "https://GitHub.com/Demo-Org/tasks.git",
        },
        id="platform repo over HTTPS, host and owner in another case",
    ),
    pytest.param(
        "/code 3 --service trader --platform-repo ssh://git@github.com/org/platform",
        {"task_id": 3, "service": "trader", "platform_repository_url": "ssh://git@github.com/org/platform"},
        id="platform repo as an ssh URL",
    ),
    pytest.param(
        "/code 3 --service trader --local-tools fs,git --remote-tools github,slack",
        {"task_id": 3, "service": "trader", "local_tools": "fs,git", "remote_tools": "github,slack"},
        id="tools",
    ),
    pytest.param(
        '/code 3 --service trader --prompt "don\'t touch the API; use `make test`"',
        {"task_id": 3, "service": "trader", "prompt_modification": "don't touch the API; use `make test`"},
        id="quoted prompt with shell characters",
    ),
    pytest.param(
        "/code 3 --service trader --continue --overwrite-memory",
        {"task_id": 3, "service": "trader", "continue_session": True, "overwrite_memory": True},
        id="switches",
    ),
    pytest.param("/code 3 --service a-b-1", {"task_id": 3, "service": "a-b-1"}, id="service with hyphens"),
    pytest.param(
        "/code 3 --service trader <!-- sent from mobile -->",
        {"task_id": 3, "service": "trader"},
        id="HTML trailer",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ACCEPTED)
def test_accepted(body: str, expected: dict[str, Any]) -> None:
    assert accepted_args(body) == ("code", expected)


REJECTED = [
    pytest.param("/code", "Missing task-id (a positive integer).", id="bare name"),
    pytest.param("/code --service trader", "Missing task-id (a positive integer).", id="missing task id"),
    pytest.param(
        "/code 5",
        "Missing required option `--service SERVICE` (a DNS-1123 label: lowercase letters, digits and `-`).",
        id="missing service",
    ),
    pytest.param(
        "/code 5 --service",
        "Option `--service` needs a value: SERVICE (a DNS-1123 label: lowercase letters, digits and `-`).",
        id="missing value",
    ),
    pytest.param(
        "/code 5 --service --continue",
        "Option `--service` needs a value: SERVICE (a DNS-1123 label: lowercase letters, digits and `-`).",
        id="value swallowed by the next flag",
    ),
    pytest.param(
        "/code abc --service trader",
        "`abc` is not a valid task-id: it must be a positive integer.",
        id="task id not a number",
    ),
    pytest.param(
        "/code -3 --service trader",
        "`-3` is not a valid task-id: it must be a positive integer.",
        id="negative task id",
    ),
    pytest.param(
        "/code 0 --service trader",
        "`0` is not a valid task-id: it must be a positive integer.",
        id="zero task id",
    ),
    pytest.param(
        "/code 2.5 --service trader",
        "`2.5` is not a valid task-id: it must be a positive integer.",
        id="fractional task id",
    ),
    pytest.param(
        "/code 5 --service Trader",
        "`--service Trader` is not valid: SERVICE must be a DNS-1123 label: lowercase letters, digits and `-`.",
        id="uppercase service",
    ),
    pytest.param(
        "/code 5 --service 'trader; rm -rf /'",
        "`--service trader; rm -rf /` is not valid: SERVICE must be a DNS-1123 label: lowercase letters, digits and `-`.",
        id="service with shell characters",
    ),
    pytest.param(
        "/code 5 --service trader --servce x",
        "Unknown option `--servce`. Did you mean `--service`?",
        id="unknown flag near miss",
    ),
    pytest.param("/code 5 --service trader --force", "Unknown option `--force`.", id="unknown flag"),
    pytest.param(
        "/code 5 --service trader --service api",
        "Option `--service` was given more than once.",
        id="duplicate flag",
    ),
    pytest.param("/code 5 6 --service trader", "Unexpected argument `6`.", id="extra argument"),
    pytest.param(
        '/code 5 --service trader --prompt "unclosed',
        "The line could not be split into arguments: no closing quotation.",
        id="unbalanced quotes",
    ),
    pytest.param(
        "/code 5 --service trader --model gpt-4o",
        "`--model gpt-4o` is not allowed here: choose one of `claude-opus-4-20250514`, `claude-sonnet-4-20250514`.",
        id="model not in the allow-list",
    ),
    pytest.param(
        "/code 5 --service trader --model opus",
        "`--model opus` is not allowed here: choose one of `claude-opus-4-20250514`, `claude-sonnet-4-20250514`.",
        id="short model name",
    ),
    pytest.param(
        "/code 5 --service trader --dir ../secrets",
        "`--dir ../secrets` is not valid: DIR must be a relative path inside the repository, without `..`.",
        id="dotdot in dir",
    ),
    pytest.param(
        "/code 5 --service trader --dir /etc",
        "`--dir /etc` is not valid: DIR must be a relative path inside the repository, without `..`.",
        id="absolute dir",
    ),
    pytest.param(
        "/code 5 --service trader --branch '-x'",
        "`--branch -x` is not valid: BRANCH must be a git branch name.",
        id="branch that looks like a flag",
    ),
    pytest.param(
        "/code 5 --service trader --branch 'a..b'",
        "`--branch a..b` is not valid: BRANCH must be a git branch name.",
        id="branch with dotdot",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo file:///etc",
        "`--platform-repo file:///etc` is not allowed: it must be an SSH or HTTPS URL of a repository on "
        "`github.com`, without a port, such as `https://github.com/OWNER/REPO` or "
        "`git@github.com:OWNER/REPO.git`.",
        id="platform repo not a repository URL",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo https://evil.example/x",
        "`--platform-repo https://evil.example/x` is not allowed: only repositories on `github.com` can be "
        "used, and this one is on `evil.example`.",
        id="platform repo on another host",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo git@10.0.0.1:org/tasks.git",
        f"`--platform-repo git@{ZWJ}10.0.0.1:org/tasks.git` is not allowed: only repositories on `github.com` can "
        "be used, and this one is on `10.0.0.1`.",
        id="platform repo on an internal address over SSH",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo ssh://git@github.com.evil.example/org/tasks",
        f"`--platform-repo ssh://git@{ZWJ}github.com.evil.example/org/tasks` is not allowed: only repositories on "
        "`github.com` can be used, and this one is on `github.com.evil.example`.",
        id="platform repo on a look-alike host",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo https://github.com:8443/org/tasks",
        "`--platform-repo https://github.com:8443/org/tasks` is not allowed: it must be an SSH or HTTPS URL "
        "of a repository on `github.com`, without a port, such as `https://github.com/OWNER/REPO` or "
        "`git@github.com:OWNER/REPO.git`.",
        id="platform repo with a port",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo https://github.com/mallory/tasks",
        "`--platform-repo https://github.com/mallory/tasks` is not allowed: only repositories of "
        "`demo-org`, `org` can be used here (`repositories.allowedOwners` in task-controller-config).",
        id="platform repo of another owner",
    ),
    pytest.param(
        "/code 5 --service trader --platform-repo http://github.com/org/tasks",
        "`--platform-repo http://github.com/org/tasks` is not allowed: it must be an SSH or HTTPS URL of a "
        "repository on `github.com`, without a port, such as `https://github.com/OWNER/REPO` or "
        "`git@github.com:OWNER/REPO.git`.",
        id="platform repo over plain HTTP",
    ),
    pytest.param(
        "/code 5 --service trader --continue=yes",
        "Option `--continue` takes no value.",
        id="switch with a value",
    ),
    pytest.param(
        "/code 5 --service trader --local-tools 'a b'",
        "`--local-tools a b` is not valid: a,b must be a comma-separated list of tool names.",
        id="tools with a space",
    ),
    pytest.param(
        "/code 5 --service trader --prompt ''",
        "Option `--prompt` needs a value: TEXT (quoted text of at most 4000 characters).",
        id="empty prompt",
    ),
    pytest.param(
        "/cod 5 --service trader", "Unknown command `/cod`. Did you mean `/code`?", id="near-miss name"
    ),
    pytest.param(
        "/coode 5 --service trader", "Unknown command `/coode`. Did you mean `/code`?", id="typo in name"
    ),
]


@pytest.mark.parametrize(("body", "problem"), REJECTED)
def test_rejected_with_exact_reply(body: str, problem: str) -> None:
    quoted = body.split("<!--")[0].strip().replace("@", "@" + ZWJ)
    assert (
        rejection_reply(body)
        == f"@alice I could not run this command:\n\n> `{quoted}`\n\n{problem}\n\n{USAGE}"
    )


HOSTILE = [
    pytest.param(
        '/code 5 --service trader --model "x` <img src=x> @org/team `y"',
        f'> ``/code 5 --service trader --model "x` <img src=x> @{ZWJ}org/team `y"``\n\n'
        f"``--model x` <img src=x> @{ZWJ}org/team `y`` is not valid: MODEL must be a full model name "
        "from the allowed list.",
        id="backticks, an img tag and a team mention in a value",
    ),
    pytest.param(
        "/code 5 --service trader --`x` [a](javascript:alert(1))",
        "> ``/code 5 --service trader --`x` [a](javascript:alert(1))``\n\nUnknown option `` --`x` ``.",
        id="an unknown option ending in a backtick",
    ),
    pytest.param(
        "/code 5 --service trader @everyone",
        f"> `/code 5 --service trader @{ZWJ}everyone`\n\nUnexpected argument `@{ZWJ}everyone`.",
        id="a mention as an argument",
    ),
]


@pytest.mark.parametrize(("body", "quoted_and_problem"), HOSTILE)
def test_hostile_values_are_echoed_inert(body: str, quoted_and_problem: str) -> None:
    assert rejection_reply(body) == (
        f"@alice I could not run this command:\n\n{quoted_and_problem}\n\n{USAGE}"
    )
