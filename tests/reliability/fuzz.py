"""Hostile comments through the whole pure path: parse -> run manifest -> CRD schema -> template context
-> rendered shell scripts -> bash.

For every generated comment (and sender): the parser never raises; every rejection is a reply to the
sender; every accepted `/docs` or `/code` yields a spec the CRD schema accepts, a run that acts as the
sender and mounts only the sender's SSH secret, and shell scripts whose values all sit in quoted
assignments. The assignments of every rendered script are then run by bash, in batches, which must read
each value back exactly and run nothing (no `PWNED` file appears).

    report = run_parser_fuzz(examples=100_000, workdir=Path("/tmp/fuzz"))   # the benchmarks' full run

`test_parser_fuzz.py` runs it at a CI count, and runs a sample of whole scripts under bash with stub
`git` / `claude` (see `run_scripts_end_to_end`).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import jobs, render
from bot.core.commands import CommandContext, parse
from bot.core.commands.code import CodeArgs
from bot.core.commands.docs import DocsArgs
from bot.core.crds import spec_schema
from bot.core.policy import ssh_secret_name
from bot.core.repositories import RepositoryRule
from bot.core.resources import RUN_NAME
from bot.core.runs import code_run, docs_run
from bot.core.taskconfig import TaskConfig, parse_task_config
from bot.sandbox.stack import TASK_CONFIG_FILE
from bot.templates import default_templates_dir, load_template_sources
from tests.core.conftest import BASE_ORIGIN

SOURCES = load_template_sources(default_templates_dir())
SHELL_TEMPLATES = {
    "docs": ("docs/container.sh.j2",),
    "code": ("code/container.sh.j2", "code/hooks/stop-commit.sh.j2"),
}
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=\{\{ (.+) \| shell_quote \}\}$")
MARKER = "PWNED"


def task_config() -> TaskConfig:
    """The job settings the cluster ships with (`k8s/task-controller-config.yaml`)."""
    configmap = yaml.safe_load(TASK_CONFIG_FILE.read_text())
    return parse_task_config(configmap["data"]["config.yaml"])


CONFIG = task_config()
# The owners of the URLs below are allowed, so accepted `--platform-repo` values reach the rendering.
CONTEXT = CommandContext(tuple(CONFIG.models.allowed), RepositoryRule("github.com", ("demo-org", "org")))
# One validator per kind, built once: `jsonschema.validate` checks the schema itself on every call.
SPEC_VALIDATORS = {
    kind: jsonschema.validators.validator_for(schema)(schema)
    for kind in ("DocsRun", "CodeRun")
    for schema in [spec_schema(kind)]
}
ORIGIN = replace(BASE_ORIGIN, sender="alice", installation_id=1)

# --- what a hostile commenter types ---------------------------------------------------------------------

INJECTIONS = [
    f"$(touch {MARKER})",
    f"`touch {MARKER}`",
    f";touch {MARKER}",
    f"&& touch {MARKER}",
    f"| touch {MARKER}",
    f"$'\\n'touch {MARKER}",
    f"${{IFS}}touch${{IFS}}{MARKER}",
    f"\ntouch {MARKER}\n",
    f"'; touch {MARKER}; echo '",
    f'"; touch {MARKER}; echo "',
    f"\\'$(touch {MARKER})",
    f"<(touch {MARKER})",
    f">{MARKER}",
    "${HOME}",
    "$RUN_NAME",
    "%s%n",
    "\x00",
    "\r",
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space
    "\uff4d\uff41\uff49\uff4e",  # "main" in fullwidth letters
    "🙂",
]
PLAUSIBLE = [
    "trader",
    "api",
    "order-book-2",
    "main",
    "feature/x",
    "release/v1.2+hotfix_3",
    ".",
    "docs",
    "services/trader",
    ".services/order-book_v2.1",
    "../..",
    "/etc",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "gpt-4",
    "git@github.com:org/repo.git",
    "ssh://git@github.com:22/org/repo",
    "https://github.com/org/repo",
    "http://github.com/org/repo",
    "fs,git",
    "@scope/mcp-server:latest,tool.x",
    "5",
    "0",
    "-1",
    "99999999999",
    "code-5-trader-0123456789",
    "keep the public API stable",
]
FLAGS = [
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
    "--service=",
    "--unknown",
    "-s",
]
COMMANDS = ["/code", "/docs", "/CODE", "/Docs", "/cancel", "/retry", "/help", "/cod", "/docs5"]


QUOTINGS: list[Callable[[str], str]] = [
    lambda value: value,
    shlex.quote,
    lambda value: f'"{value}"',
    lambda value: f"'{value}'",
]
"""The ways a value reaches the command line: bare, shell-quoted, or wrapped in quotes as typed."""


def _quoted(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # tuples + map, not flatmap: hypothesis draws these several times faster.
    return st.tuples(values, st.sampled_from(QUOTINGS)).map(lambda drawn: drawn[1](drawn[0]))


RAW_VALUES = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(INJECTIONS),
    st.builds(lambda a, b: a + b, st.sampled_from(PLAUSIBLE), st.sampled_from(INJECTIONS)),
    st.builds(lambda a, b: a + b, st.sampled_from(INJECTIONS), st.sampled_from(PLAUSIBLE)),
    st.text(max_size=30),
)
VALUES = _quoted(RAW_VALUES)
WORDS = st.one_of(st.sampled_from(FLAGS), VALUES)
FREEFORM_LINES = st.builds(
    lambda command, words: " ".join([command, *words]),
    st.sampled_from(COMMANDS),
    st.lists(WORDS, max_size=6),
)
# Values each option accepts, so that most structured lines are accepted and their values reach the
# scripts; a hostile value (VALUES) is mixed in now and then.
OPTION_VALUES = {
    "--branch": ["main", "feature/x", "release/v1.2+hotfix_3", "a_b-c"],
    "--dir": [".", "services/trader", ".services/order-book_v2.1", "a/b/c"],
    "--model": ["claude-opus-4-20250514", "claude-sonnet-4-20250514"],
    "--platform-repo": [
        "git@github.com:org/platform.git",
        "https://github.com/org/platform",
        "ssh://git@github.com:22/o/p",
    ],
    "--local-tools": ["fs,git", "@scope/mcp-server:latest,tool.x"],
    "--remote-tools": ["github", "taskmaster,github"],
    "--prompt": ["keep the API stable", *INJECTIONS],
}


OPTIONS = st.one_of(
    st.tuples(
        st.sampled_from([(flag, value) for flag, values in OPTION_VALUES.items() for value in values]),
        st.sampled_from(QUOTINGS),
    ).map(lambda drawn: [drawn[0][0], drawn[1](drawn[0][1])]),
    st.tuples(st.sampled_from(sorted(OPTION_VALUES)), VALUES).map(list),
)


STRUCTURED_LINES = st.builds(
    lambda head, options, switches: " ".join(
        head + [word for option in options for word in option] + switches
    ),
    st.one_of(
        st.just(["/docs"]),
        st.builds(
            lambda task, service: ["/code", task, "--service", service],
            st.one_of(st.sampled_from(["5", "12", "10000000"]), VALUES),
            st.one_of(st.sampled_from(["trader", "api", "order-book-2"]), VALUES),
        ),
    ),
    st.lists(OPTIONS, max_size=4),
    st.lists(st.sampled_from(["--continue", "--overwrite-memory"]), max_size=2, unique=True),
)
COMMAND_LINES = st.one_of(STRUCTURED_LINES, FREEFORM_LINES)
PREFIXES = st.sampled_from(["", "> ", "```\n", "<!-- ", "  ", "\r\n", "text before\n"])
COMMENTS = st.lists(
    st.one_of(
        COMMAND_LINES, st.builds(lambda p, line: p + line, PREFIXES, COMMAND_LINES), st.text(max_size=60)
    ),
    min_size=1,
    max_size=3,
).map("\n".join)
# Valid GitHub logins of every shape (case, hyphens, length); drawn from a list because generating them
# from the pattern costs more than everything else in an example.
LOGINS = st.sampled_from(
    ["alice", "Carol", "erin-2", "a", "A-b-9", "x" * 39, "Mixed-Case-User", "0", "dependabot"]
)


# --- one comment through the pure path -------------------------------------------------------------------


@dataclass(frozen=True)
class Prologue:
    """The quoted assignments at the top of one rendered script, and the values bash must read back."""

    source: str
    names: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class _ShellTemplate:
    path: str
    prologue: jinja2.Template
    full: jinja2.Template
    names: tuple[str, ...]
    expressions: tuple[Callable[..., Any], ...]


@cache
def _shell_templates(task_type: str) -> tuple[_ShellTemplate, ...]:
    environment = render.template_environment(SOURCES)
    templates = []
    for path in SHELL_TEMPLATES[task_type]:
        lines = SOURCES[path].splitlines(keepends=True)
        assignments = [(i, ASSIGNMENT.match(line.rstrip("\n"))) for i, line in enumerate(lines)]
        found = [(i, match) for i, match in assignments if match]
        last = found[-1][0]
        templates.append(
            _ShellTemplate(
                path,
                environment.from_string("".join(lines[1 : last + 1])),  # without the #! line
                environment.get_template(path),
                tuple(match.group(1) for _, match in found),
                tuple(environment.compile_expression(match.group(2)) for _, match in found),
            )
        )
    return tuple(templates)


def _as_shell_word(value: object) -> str:
    """What bash must read back for a value `shell_quote` wrote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def scripts_of(run: Mapping[str, Any], config: TaskConfig = CONFIG) -> tuple[dict[str, str], list[Prologue]]:
    """The run's rendered shell scripts (by template path) and their prologues."""
    context = render.build_context(run, config)
    variables = {name: getattr(context, name) for name in type(context).model_fields}
    rendered: dict[str, str] = {}
    prologues = []
    for template in _shell_templates(context.task_type):
        text = template.full.render(variables)
        prologue = template.prologue.render(variables)
        # The prologue is the script's own beginning, not a lookalike.
        assert text.split("\n", 1)[1].startswith(prologue), template.path
        values = tuple(_as_shell_word(expression(**variables)) for expression in template.expressions)
        rendered[template.path] = text
        prologues.append(Prologue(prologue, template.names, values))
    return rendered, prologues


@dataclass
class FuzzReport:
    examples: int = 0
    accepted_runs: int = 0
    rejected_lines: int = 0
    prologues: dict[Prologue, str] = field(default_factory=dict)
    """Each distinct prologue, with the comment that produced it (for the failure message)."""


def check_comment(body: str, login: str, report: FuzzReport) -> None:
    """Every property of one comment except bash's reading (see `verify_with_bash`)."""
    report.examples += 1
    origin = replace(ORIGIN, sender=login)
    parsed = parse(body, CONTEXT)
    for rejected in parsed.rejected:
        assert rejected.reply(login).startswith(f"@{login} "), rejected
        report.rejected_lines += 1
    for accepted in parsed.accepted:
        manifest: dict[str, Any]
        if isinstance(accepted.args, CodeArgs):
            manifest = code_run(accepted.args, origin, accepted.index, CONFIG, "orchestrator")
        elif isinstance(accepted.args, DocsArgs):
            manifest = docs_run(accepted.args, origin, accepted.index, CONFIG, "orchestrator")
        else:
            continue
        report.accepted_runs += 1
        SPEC_VALIDATORS[manifest["kind"]].validate(manifest["spec"])
        manifest["metadata"]["uid"] = "0d4c5f9e-uid-from-the-apiserver"
        assert re.fullmatch(RUN_NAME, manifest["metadata"]["name"]), manifest["metadata"]["name"]
        assert manifest["spec"]["githubUser"] == login
        job = jobs.job_manifest(manifest, CONFIG)
        secrets = [
            v["secret"]["secretName"] for v in job["spec"]["template"]["spec"]["volumes"] if "secret" in v
        ]
        assert secrets == [ssh_secret_name(login)], secrets
        _, prologues = scripts_of(manifest)
        for prologue in prologues:
            report.prologues.setdefault(prologue, body)


# --- bash reads the assignments back ---------------------------------------------------------------------


def verify_with_bash(prologues: Mapping[Prologue, str], workdir: Path, batch: int = 2000) -> None:
    """Run every prologue under bash (in batches), print each variable NUL-separated, and compare with the
    values the run holds; fail if bash disagrees, errs, or something it ran left a `PWNED` file."""
    workdir.mkdir(parents=True, exist_ok=True)
    items = list(prologues.items())
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        program = ["set -u"]
        for prologue, _ in chunk:
            program.append(prologue.source)
            program.append("printf '%s\\0' " + " ".join(f'"${{{name}}}"' for name in prologue.names))
        script = workdir.parent / f"{workdir.name}-prologues.sh"
        script.write_text("\n".join(program) + "\n")
        done = subprocess.run(
            ["bash", str(script)],
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)},
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        read_back = done.stdout.split(b"\0")[:-1]
        offset = 0
        for prologue, comment in chunk:
            got = [value.decode() for value in read_back[offset : offset + len(prologue.names)]]
            offset += len(prologue.names)
            assert got == list(prologue.values), (
                f"bash read {got!r} for {prologue.values!r}; comment {comment!r}"
            )
        assert offset == len(read_back)
        assert not any(path.name == MARKER for path in workdir.rglob("*")), "an injected command ran"


def run_parser_fuzz(examples: int, workdir: Path) -> FuzzReport:
    """The whole fuzz: `examples` hypothesis examples, then bash over every distinct prologue."""
    report = FuzzReport()

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
    )
    @given(COMMENTS, LOGINS)
    def every_comment(body: str, login: str) -> None:
        check_comment(body, login, report)

    every_comment()
    verify_with_bash(report.prologues, workdir)
    return report


# --- whole scripts under bash, with stub git and claude ------------------------------------------------

VALID_OPTIONS = st.tuples(
    st.sampled_from([(flag, value) for flag, values in OPTION_VALUES.items() for value in values]),
    st.sampled_from(QUOTINGS),
).map(lambda drawn: [drawn[0][0], drawn[1](drawn[0][1])])
ACCEPTABLE_LINES = st.builds(
    lambda head, options, switches: " ".join(
        head + [word for option in options for word in option] + switches
    ),
    st.one_of(
        st.just(["/docs"]),
        st.builds(
            lambda task, service: ["/code", task, "--service", service],
            st.sampled_from(["5", "12"]),
            st.sampled_from(["trader", "api", "order-book-2"]),
        ),
    ),
    st.lists(VALID_OPTIONS, max_size=5),
    st.lists(st.sampled_from(["--continue", "--overwrite-memory"]), max_size=2, unique=True),
)


def run_scripts_end_to_end(examples: int, workdir: Path) -> int:
    """Render whole runs from accepted hostile-but-valid comments and run `container.sh` (and the stop
    hook) under bash with stub `git` / `claude`: they must succeed, pass every value through unchanged,
    and run nothing injected. Returns how many runs were executed."""
    from hypothesis import assume

    from tests.test_templates import Sandbox

    executed = 0

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(ACCEPTABLE_LINES, LOGINS)
    def every_run(line: str, login: str) -> None:
        nonlocal executed
        accepted = [a for a in parse(line, CONTEXT).accepted if isinstance(a.args, CodeArgs | DocsArgs)]
        assume(accepted)
        args = accepted[0].args
        origin = replace(ORIGIN, sender=login)
        if isinstance(args, CodeArgs):
            manifest = code_run(args, origin, 0, CONFIG, "orchestrator")
        else:
            manifest = docs_run(args, origin, 0, CONFIG, "orchestrator")
        manifest["metadata"]["uid"] = "0d4c5f9e-uid-from-the-apiserver"
        context = render.build_context(manifest, CONFIG)
        files = render.render_files(context.task_type, SOURCES, context)
        root = workdir / f"run-{executed}"
        executed += 1
        sandbox = Sandbox(root, files)
        if context.code is not None:
            task = sandbox.repos / "platform" / ".taskmaster" / "docs" / f"task-{context.code.task_id}"
            task.mkdir(parents=True)
            (task / "task.md").write_text("The task.\n")
        run = sandbox.run("container.sh", STUB_WORKDIR=context.working_directory)
        assert run.returncode == 0, (line, run.stderr[-2000:])
        assert run.git("clone")[-1][-2] == context.repository_url, (line, run.git("clone"))
        [claude] = run.argv("claude")
        assert claude[claude.index("--model") + 1] == context.model
        if context.code is not None and context.code.prompt_modification:
            [call] = [c for c in run.calls if c.program == "claude"]
            assert context.code.prompt_modification in (call.stdin or ""), line
        assert run.result is not None and run.result["branch"] == context.work_branch
        if context.code is not None:
            hook = sandbox.run("hooks-stop-commit.sh")
            assert hook.returncode == 0, (line, hook.stderr[-2000:])
        assert not any(path.name == MARKER for path in root.rglob("*")), f"an injected command ran: {line!r}"

    every_run()
    return executed
