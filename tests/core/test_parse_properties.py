"""Properties of the parser under arbitrary input: it never raises, and whatever it accepts becomes a
run spec that the CRD schema (as the apiserver would apply it) accepts."""

from __future__ import annotations

import os
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.commands import code_label_command, parse
from bot.core.commands.code import CodeArgs
from bot.core.commands.docs import DocsArgs
from bot.core.comments import command_lines
from bot.core.crds import spec_schema
from bot.core.runs import code_run, docs_run
from bot.core.taskconfig import parse_task_config

from .commands.conftest import CONTEXT
from .conftest import BASE_ORIGIN, TASK_CONFIG_YAML

EXAMPLES = int(os.environ.get("PARSER_FUZZ_EXAMPLES", "400"))
CONFIG = parse_task_config(TASK_CONFIG_YAML)
SPEC_SCHEMAS = {kind: spec_schema(kind) for kind in ("DocsRun", "CodeRun")}

HOSTILE = [
    "$(touch /tmp/pwned)",
    "`id`",
    "'",
    '"',
    "\\",
    ";",
    "&&",
    "|",
    "\n",
    "../..",
    "--",
    "-",
    "=",
    "\x00",
    "🙂",
    "${HOME}",
    "a" * 300,
]
WORDS = st.sampled_from(
    [
        "/code",
        "/docs",
        "/cancel",
        "/retry",
        "/help",
        "/CODE",
        "--service",
        "--branch",
        "--dir",
        "--model",
        "--platform-repo",
        "--local-tools",
        "--remote-tools",
        "--prompt",
        "--continue",
        "--overwrite-memory",
        "trader",
        "api",
        "5",
        "0",
        "-1",
        "99999999999",
        "main",
        "feature/x",
        "docs",
        ".",
        "claude-opus-4-20250514",
        "git@github.com:org/repo.git",
        "https://github.com/org/repo",
        "fs,git",
        "code-5-trader-0123456789",
        *HOSTILE,
    ]
)
COMMAND_LINES = st.lists(WORDS, min_size=1, max_size=12).map(lambda words: " ".join(words))
COMMENTS = st.lists(st.one_of(COMMAND_LINES, st.text(max_size=80)), max_size=6).map("\n".join)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_without_raising(body: str) -> None:
    parsed = parse(body, CONTEXT)
    for rejected in parsed.rejected:
        assert rejected.reply("alice").startswith("@alice ")


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(COMMENTS)
def test_every_accepted_run_command_yields_a_spec_the_crd_accepts(body: str) -> None:
    for accepted in parse(body, CONTEXT).accepted:
        manifest: dict[str, Any]
        if isinstance(accepted.args, CodeArgs):
            manifest = code_run(accepted.args, BASE_ORIGIN, accepted.index, CONFIG, "ns")
        elif isinstance(accepted.args, DocsArgs):
            manifest = docs_run(accepted.args, BASE_ORIGIN, accepted.index, CONFIG, "ns")
        else:
            continue
        jsonschema.validate(manifest["spec"], SPEC_SCHEMAS[manifest["kind"]])
        assert len(manifest["metadata"]["name"]) <= 63


MARKUP = st.sampled_from(
    [
        "<details>",
        "</details>",
        "<summary>x</summary>",
        "<DETAILS open>",
        "<script>",
        "</script>",
        "<img alt='",
        '<a title="',
        "'>",
        '">',
        ">",
        "<",
        "<!--",
        "-->",
        "<?",
        "<!X",
        "</ x",
        "`",
        "```",
        "> ",
        "\n",
        "\n\n",
        "/code 5 --service a",
        "/docs",
        " ",
        "x",
    ]
)
MARKED_UP = st.lists(MARKUP, max_size=30).map("".join)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(MARKED_UP)
def test_someone_elses_text_never_yields_a_line_its_authors_would_not(body: str) -> None:
    theirs = command_lines(body, trust_collapsed=True)
    assert set(command_lines(body, trust_collapsed=False)) <= set(theirs)
    for by_labeler in (True, False):
        parsed = code_label_command(body, "code", CONTEXT, by_labeler=by_labeler)
        assert len(parsed.accepted) + len(parsed.rejected) == 1
