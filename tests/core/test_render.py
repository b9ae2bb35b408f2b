"""The rendering layer: run + config -> one typed context -> the ConfigMap files, strictly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot.core.render import (
    CodeContext,
    DocsContext,
    Paths,
    RenderError,
    TemplateContext,
    build_context,
    hook_event,
    parse_run,
    render_files,
    shell_quote,
    telemetry_env,
    template_environment,
    template_key,
    template_path,
)
from bot.core.taskconfig import TaskConfig, TelemetryConfig, parse_task_config
from bot.templates import default_templates_dir, load_template_sources

from .conftest import TASK_CONFIG_YAML

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "render"
SOURCES = load_template_sources(default_templates_dir())
DOCS_KEYS = {"container.sh", "CLAUDE.md", "settings.json", "prompt.md"}
CODE_KEYS = DOCS_KEYS | {
    "mcp.json",
    "client-config.json",
    "coding-guidelines.md",
    "github-guidelines.md",
    "hooks-stop-commit.sh",
}


def docs_run(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "orchestrator.platform/v1",
        "kind": "DocsRun",
        "metadata": {"name": "docs-3f2a9c1e7b", "namespace": "orchestrator", "uid": "uid-docs"},
        "spec": {
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "workingDirectory": "docs",
            "sourceBranch": "main",
            "model": "claude-opus-4-20250514",
            "githubUser": "Alice",
            **spec,
        },
    }


CODE_OPTIONALS = {
    "localTools": "mcp-filesystem,mcp-git",
    "remoteTools": "github,taskmaster",
    "toolConfig": "advanced",
    "contextVersion": 3,
    "promptModification": "Keep the public API of the order book unchanged.",
    "promptMode": "append",
    "continueSession": True,
    "overwriteMemory": True,
}


def code_run(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "orchestrator.platform/v1",
        "kind": "CodeRun",
        "metadata": {"name": "code-5-trader-8d1c0f4a2b", "namespace": "orchestrator", "uid": "uid-code"},
        "spec": {
            "taskId": 5,
            "service": "trader",
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "platformRepositoryUrl": "git@github.com:demo-org/platform.git",
            "branch": "main",
            "workingDirectory": "services/trader",
            "model": "claude-sonnet-4-20250514",
            "githubUser": "Alice",
            **spec,
        },
    }


TELEMETRY_CONFIG_YAML = (
    TASK_CONFIG_YAML
    + """
telemetry:
  enabled: true
  otlpEndpoint: http://otel-collector.observability:4317
  logsEndpoint: http://otel-collector.observability:4318/v1/logs
"""
)


# --- the context ----------------------------------------------------------------------------------


def test_docs_context_from_run(task_config: TaskConfig) -> None:
    context = build_context(docs_run(), task_config)
    assert context.task_type == "docs"
    assert context.run_name == "docs-3f2a9c1e7b"
    assert context.base_branch == "main"
    assert context.work_branch == "docs/docs-3f2a9c1e7b"
    assert context.git_user_email == "Alice@users.noreply.github.com"
    assert context.permissions.allow == ["Bash", "Read"]
    assert context.permissions.deny == ["Edit(//**/.git/**)"]
    assert context.code is None


def test_code_context_from_run(task_config: TaskConfig) -> None:
    context = build_context(code_run(**CODE_OPTIONALS), task_config)
    assert context.work_branch == "feature/task-5-trader"
    assert context.code is not None
    assert context.code.local_tools == ("mcp-filesystem", "mcp-git")
    assert context.code.remote_tools == ("github", "taskmaster")
    assert context.code.context_version == 3
    assert context.code.continue_session is True


def test_code_context_defaults_for_unset_optionals(task_config: TaskConfig) -> None:
    context = build_context(code_run(), task_config)
    assert context.code == CodeContext(
        task_id=5, service="trader", platform_repository_url="git@github.com:demo-org/platform.git"
    )


def test_context_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        TemplateContext.model_validate({**_context_fields(), "surprise": 1})


def test_code_values_only_with_a_code_context() -> None:
    with pytest.raises(ValueError, match="task_type 'code'"):
        TemplateContext(**_context_fields(task_type="code"))


def test_docs_values_only_with_a_docs_context() -> None:
    with pytest.raises(ValueError, match="task_type 'docs'"):
        TemplateContext(**_context_fields(docs=None))


def test_a_docs_continuation_works_on_the_pull_requests_branch(task_config: TaskConfig) -> None:
    run = docs_run()
    run["spec"] |= {
        "sourceBranch": "docs/docs-1111111111",
        "workBranch": "docs/docs-1111111111",
        "promptModification": "document the retry settings too",
    }
    context = build_context(run, task_config)
    assert (context.base_branch, context.work_branch) == ("docs/docs-1111111111", "docs/docs-1111111111")
    assert context.docs == DocsContext(prompt_modification="document the retry settings too", continues=True)
    files = render_files("docs", SOURCES, context)
    assert "document the retry settings too" in files["prompt.md"]
    assert "already holds" in files["prompt.md"]
    assert (
        "already holds"
        not in render_files("docs", SOURCES, build_context(docs_run(), task_config))["prompt.md"]
    )


def _context_fields(**changes: Any) -> dict[str, Any]:
    fields = {
        "task_type": "docs",
        "run_name": "r",
        "namespace": "n",
        "repository_url": "u",
        "base_branch": "b",
        "work_branch": "w",
        "working_directory": ".",
        "model": "m",
        "github_user": "g",
        "git_user_email": "e",
        "commit_message": "c",
        "docs": DocsContext(),
    }
    return {**fields, **changes}


def test_paths_must_be_plain_absolute_paths() -> None:
    with pytest.raises(ValueError, match="pattern"):
        Paths(config_dir="/config; touch x")


@pytest.mark.parametrize(
    ("run", "message"),
    [
        pytest.param({**docs_run(), "kind": "Pod"}, "not a DocsRun or CodeRun", id="wrong kind"),
        pytest.param({**docs_run(), "kind": ["DocsRun"]}, "not a DocsRun or CodeRun", id="kind not a string"),
        pytest.param({**docs_run(), "metadata": "docs-1"}, "DNS label", id="metadata not a mapping"),
        pytest.param(
            {**docs_run(), "metadata": {"name": "Docs_1", "namespace": "n"}}, "DNS label", id="bad name"
        ),
        pytest.param(
            {**docs_run(), "metadata": {"name": "d" * 64, "namespace": "n"}}, "63", id="name too long"
        ),
        pytest.param({**docs_run(), "metadata": {"name": "docs-1"}}, "namespace", id="no namespace"),
        pytest.param(docs_run(sourceBranch="-x"), "sourceBranch", id="invalid spec field"),
        pytest.param(code_run(taskId=None), "taskId", id="missing task id"),
        pytest.param({**docs_run(), "spec": None}, "repositoryUrl", id="no spec"),
    ],
)
def test_invalid_runs_are_refused_with_the_reason(
    run: dict[str, Any], message: str, task_config: TaskConfig
) -> None:
    with pytest.raises(RenderError, match=message):
        build_context(run, task_config)


@pytest.mark.parametrize(
    ("annotation", "attempt"),
    [(None, 1), ("3", 3), ("0", 1), ("x", 1), ("\u00b2", 1)],
    ids=["absent", "3", "zero", "junk", "unicode digit"],
)
def test_docs_attempt_comes_from_its_annotation(annotation: str | None, attempt: int) -> None:
    run = docs_run()
    if annotation is not None:
        run["metadata"]["annotations"] = {"orchestrator.platform/attempt": annotation}
    assert parse_run(run).attempt == attempt


def test_telemetry_env_is_empty_when_disabled() -> None:
    assert telemetry_env(TelemetryConfig()) == {}


def test_telemetry_env_when_enabled() -> None:
    config = parse_task_config(TELEMETRY_CONFIG_YAML)
    assert telemetry_env(config.telemetry) == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://otel-collector.observability:4317",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://otel-collector.observability:4318/v1/logs",
    }


# --- filters, keys, hooks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "plain"),
        ("", "''"),
        ("it's $(x)", "'it'\"'\"'s $(x)'"),
        (True, "true"),
        (False, "false"),
        (5, "5"),
    ],
    ids=["plain", "empty", "metacharacters", "true", "false", "integer"],
)
def test_shell_quote(value: object, quoted: str) -> None:
    assert shell_quote(value) == quoted


def test_shell_quote_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="not list"):
        shell_quote(["a"])


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("code/container.sh.j2", "code_container.sh.j2"),
        ("code/hooks/stop-commit.sh.j2", "code_hooks_stop-commit.sh.j2"),
        ("docs/CLAUDE.md.j2", "docs_CLAUDE.md.j2"),
        ("code/my_notes.md.j2", "code_my_notes.md.j2"),
        ("code/hooks/stop-my_hook.sh.j2", "code_hooks_stop-my_hook.sh.j2"),
    ],
)
def test_template_keys_round_trip(path: str, key: str) -> None:
    assert template_key(path) == key
    assert template_path(key) == path


@pytest.mark.parametrize(
    "path",
    ["other/container.sh.j2", "code/container.sh", "code/a/b.j2", "code/.hidden.j2", "code/hooks/x y.j2"],
)
def test_unusable_template_paths_are_refused(path: str) -> None:
    with pytest.raises(RenderError, match="template path"):
        template_key(path)


def test_template_key_must_name_a_kind() -> None:
    with pytest.raises(RenderError, match="'docs_', 'code_' or 'shared_'"):
        template_path("container.sh.j2")


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("stop-commit.sh", "Stop"),
        ("subagent-stop-log.sh", "SubagentStop"),
        ("pre-tool-use-guard.sh", "PreToolUse"),
        ("post-tool-use-format.sh", "PostToolUse"),
    ],
)
def test_hook_event_from_its_name(name: str, event: str) -> None:
    assert hook_event(name) == event


def test_hook_without_an_event_prefix_is_refused() -> None:
    with pytest.raises(RenderError, match=r"early-test\.sh.*must start with one of"):
        hook_event("early-test.sh")


# --- rendering ------------------------------------------------------------------------------------

MINIMAL_DOCS = {
    "docs/container.sh.j2": "RUN={{ run_name | shell_quote }}\n",
    "docs/CLAUDE.md.j2": "# {{ run_name }}\n",
    "docs/settings.json.j2": '{"hooks": {{ hooks | map(attribute="name") | list | tojson }}}\n',
    "docs/prompt.md.j2": "Document {{ working_directory }}.\n",
}


def minimal_docs_context() -> TemplateContext:
    return TemplateContext(**_context_fields())


def test_minimal_templates_render_to_flat_keys() -> None:
    files = render_files("docs", MINIMAL_DOCS, minimal_docs_context())
    assert files == {
        "container.sh": "RUN=r\n",
        "CLAUDE.md": "# r\n",
        "settings.json": '{\n  "hooks": []\n}\n',
        "prompt.md": "Document ..\n",
    }


def test_missing_variable_fails_loudly_with_template_and_name() -> None:
    """The seed rendered missing variables as empty strings; here it is an error naming both."""
    sources = {**MINIMAL_DOCS, "docs/prompt.md.j2": "line one\nDocument {{ working_dir }}.\n"}
    with pytest.raises(RenderError, match=r"docs/prompt\.md\.j2 line 2: 'working_dir' is undefined"):
        render_files("docs", sources, minimal_docs_context())


def test_missing_attribute_fails_loudly() -> None:
    sources = {**MINIMAL_DOCS, "docs/prompt.md.j2": "{{ paths.nowhere }}\n"}
    with pytest.raises(RenderError, match=r"docs/prompt\.md\.j2 line 1: .*'nowhere'"):
        render_files("docs", sources, minimal_docs_context())


def test_code_values_in_a_docs_template_fail_loudly() -> None:
    sources = {**MINIMAL_DOCS, "docs/prompt.md.j2": "{{ code.task_id }}\n"}
    with pytest.raises(RenderError, match="task_id"):
        render_files("docs", sources, minimal_docs_context())


def test_undefined_value_through_shell_quote_fails_loudly() -> None:
    sources = {**MINIMAL_DOCS, "docs/container.sh.j2": "X={{ nothing | shell_quote }}\n"}
    with pytest.raises(RenderError, match="'nothing' is undefined"):
        render_files("docs", sources, minimal_docs_context())


def test_undefined_value_through_tojson_fails_loudly() -> None:
    sources = {**MINIMAL_DOCS, "docs/settings.json.j2": "{{ nothing | tojson }}\n"}
    with pytest.raises(RenderError, match="'nothing' is undefined"):
        render_files("docs", sources, minimal_docs_context())


def test_shell_quote_of_a_list_names_the_template() -> None:
    sources = {**MINIMAL_DOCS, "docs/container.sh.j2": "X={{ permissions.allow | shell_quote }}\n"}
    with pytest.raises(RenderError, match=r"docs/container\.sh\.j2 line 1: shell_quote takes"):
        render_files("docs", sources, minimal_docs_context())


def test_template_syntax_error_names_the_line() -> None:
    sources = {**MINIMAL_DOCS, "docs/CLAUDE.md.j2": "ok\n{% if %}\n"}
    with pytest.raises(RenderError, match=r"docs/CLAUDE\.md\.j2 line 2"):
        render_files("docs", sources, minimal_docs_context())


def test_unserialisable_value_through_tojson_names_the_template() -> None:
    sources = {**MINIMAL_DOCS, "docs/settings.json.j2": "{{ paths | tojson }}\n"}
    with pytest.raises(RenderError, match=r"docs/settings\.json\.j2 line 1: .*not JSON serializable"):
        render_files("docs", sources, minimal_docs_context())


def test_the_run_kind_names_the_templates_too(task_config: TaskConfig) -> None:
    run = code_run()
    by_kind = render_files("CodeRun", SOURCES, build_context(run, task_config))
    assert by_kind == render_files("code", SOURCES, build_context(run, task_config))


def test_invalid_json_output_is_an_error() -> None:
    sources = {**MINIMAL_DOCS, "docs/settings.json.j2": '{"model": {{ model }}}\n'}
    with pytest.raises(RenderError, match=r"docs/settings\.json\.j2 did not render valid JSON"):
        render_files("docs", sources, minimal_docs_context())


def test_missing_required_template_is_an_error() -> None:
    sources = {k: v for k, v in MINIMAL_DOCS.items() if k != "docs/prompt.md.j2"}
    with pytest.raises(RenderError, match=r"missing template\(s\): docs/prompt\.md\.j2"):
        render_files("docs", sources, minimal_docs_context())


def test_a_context_renders_only_its_own_kind() -> None:
    with pytest.raises(RenderError, match="docs context cannot render the code templates"):
        render_files("code", MINIMAL_DOCS, minimal_docs_context())


def test_adding_a_hook_file_adds_a_key_and_a_settings_entry() -> None:
    sources = {**MINIMAL_DOCS, "docs/hooks/stop-notify.sh.j2": "echo {{ run_name | shell_quote }}\n"}
    files = render_files("docs", sources, minimal_docs_context())
    assert files["hooks-stop-notify.sh"] == "echo r\n"
    assert json.loads(files["settings.json"]) == {"hooks": ["stop-notify.sh"]}


def test_a_hook_with_an_unknown_event_is_an_error() -> None:
    sources = {**MINIMAL_DOCS, "docs/hooks/early-test.sh.j2": "true\n"}
    with pytest.raises(RenderError, match=r"early-test\.sh"):
        render_files("docs", sources, minimal_docs_context())


# --- the real templates ---------------------------------------------------------------------------

RUNS = {
    "docs": docs_run(),
    "docs, working directory '.'": docs_run(workingDirectory="."),
    "code, optionals unset": code_run(),
    "code, optionals set": code_run(**CODE_OPTIONALS),
    "code, prompt replaced": code_run(**{**CODE_OPTIONALS, "promptMode": "replace"}),
}


@pytest.mark.parametrize("run", list(RUNS.values()), ids=list(RUNS))
@pytest.mark.parametrize("config_yaml", [TASK_CONFIG_YAML, TELEMETRY_CONFIG_YAML], ids=["plain", "telemetry"])
def test_every_template_renders(run: dict[str, Any], config_yaml: str) -> None:
    context = build_context(run, parse_task_config(config_yaml))
    files = render_files(context.task_type, SOURCES, context)
    assert set(files) == (DOCS_KEYS if context.task_type == "docs" else CODE_KEYS)
    for key, text in files.items():
        assert text.endswith("\n"), key
        if key.endswith(".json"):
            json.loads(text)


def test_settings_carry_permissions_telemetry_and_hooks() -> None:
    context = build_context(code_run(), parse_task_config(TELEMETRY_CONFIG_YAML))
    settings = json.loads(render_files("code", SOURCES, context)["settings.json"])
    assert settings["permissions"]["allow"] == ["Bash", "Read"]
    assert settings["permissions"]["deny"] == ["Edit(//**/.git/**)"]
    assert settings["env"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert settings["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert settings["model"] == "claude-sonnet-4-20250514"
    [stop] = settings["hooks"]["Stop"]
    assert stop["hooks"] == [
        {"type": "command", "command": 'bash "${CONFIG_DIR:-/config}/hooks-stop-commit.sh"'}
    ]


def test_docs_settings_have_no_hooks(task_config: TaskConfig) -> None:
    files = render_files("docs", SOURCES, build_context(docs_run(), task_config))
    assert json.loads(files["settings.json"])["hooks"] == {}


def test_mcp_config_from_local_and_remote_tools(task_config: TaskConfig) -> None:
    files = render_files("code", SOURCES, build_context(code_run(**CODE_OPTIONALS), task_config))
    servers = json.loads(files["mcp.json"])["mcpServers"]
    assert set(servers) == {"mcp-filesystem", "mcp-git", "remote-tools"}
    assert servers["mcp-git"]["command"] == "mcp-git"
    assert servers["remote-tools"]["args"] == ["--client-config", "${CONFIG_DIR:-/config}/client-config.json"]
    client = json.loads(files["client-config.json"])
    assert client == {
        "service": "trader",
        "taskId": 5,
        "toolConfig": "advanced",
        "localTools": ["mcp-filesystem", "mcp-git"],
        "remoteTools": ["github", "taskmaster"],
    }


def test_every_mcp_server_of_a_run_is_allowed(task_config: TaskConfig) -> None:
    """Claude Code refuses MCP tools that no rule allows: one `mcp__<server>` rule per server in
    mcp.json, with the name as the CLI normalises it."""
    run = code_run(**{**CODE_OPTIONALS, "localTools": "mcp-filesystem,@scope/tool.x"})
    files = render_files("code", SOURCES, build_context(run, task_config))
    servers = json.loads(files["mcp.json"])["mcpServers"]
    allow = json.loads(files["settings.json"])["permissions"]["allow"]
    assert set(servers) == {"mcp-filesystem", "@scope/tool.x", "remote-tools"}
    assert allow == ["Bash", "Read", "mcp__mcp-filesystem", "mcp___scope_tool_x", "mcp__remote-tools"]


def test_mcp_config_without_tools_is_empty(task_config: TaskConfig) -> None:
    files = render_files("code", SOURCES, build_context(code_run(), task_config))
    assert json.loads(files["mcp.json"]) == {"mcpServers": {}}


@pytest.mark.parametrize(
    ("mode", "heading", "follows_task_prompt"),
    [
        ("append", "## Additional instructions for this run", True),
        ("replace", "## Instructions for this run", False),
    ],
)
def test_prompt_modification_per_prompt_mode(
    mode: str, heading: str, follows_task_prompt: bool, task_config: TaskConfig
) -> None:
    run = code_run(promptModification="Only touch the order book.", promptMode=mode)
    prompt = render_files("code", SOURCES, build_context(run, task_config))["prompt.md"]
    assert f"{heading}\n\nOnly touch the order book.\n" in prompt
    assert ("Follow the task's" in prompt) is follows_task_prompt


def test_prompt_without_modification_follows_the_task_prompt(task_config: TaskConfig) -> None:
    prompt = render_files("code", SOURCES, build_context(code_run(promptMode="replace"), task_config))[
        "prompt.md"
    ]
    assert "Follow the task's" in prompt
    assert "instructions for this run" not in prompt.lower()


# --- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docs", "code"])
def test_rendered_files_match_golden(kind: str) -> None:
    """Update with `UPDATE_GOLDEN=1 pytest tests/core/test_render.py`; never edit them by hand."""
    run = docs_run() if kind == "docs" else code_run(**CODE_OPTIONALS)
    context = build_context(run, parse_task_config(TELEMETRY_CONFIG_YAML))
    files = render_files(context.task_type, SOURCES, context)
    directory = GOLDEN / kind
    if os.environ.get("UPDATE_GOLDEN") == "1":
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            stale.unlink()
        for key, text in files.items():
            (directory / key).write_text(text, encoding="utf-8")
    golden = {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}
    assert files == golden


def test_a_kept_environment_renders_the_same_as_a_fresh_one() -> None:
    sources = load_template_sources(default_templates_dir())
    context = minimal_docs_context()
    kept = template_environment(sources)
    first = render_files("docs", sources, context, kept)
    assert render_files("docs", sources, context, kept) == first == render_files("docs", sources, context)
