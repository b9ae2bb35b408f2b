"""Run + task config -> the files an agent run gets, through strict Jinja2 templates.

Pure: templates come in as a mapping `{relative path: text}` (`bot.templates` reads them from disk or
from the Helm ConfigMap mount), the run as its manifest, and the config as a parsed `TaskConfig`.
Templates see exactly one typed model, `TemplateContext`; a missing variable is an error, never an
empty string (the seed's non-strict rendering silently produced empty values).

Shell templates take values only through the `shell_quote` filter; JSON templates are parsed after
rendering and re-serialised, so a template can never ship invalid JSON to the agent.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Any, Literal, Self

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.core.permissions import agent_rules
from bot.core.resources import DNS_LABEL, CodeRunSpec, DocsRunSpec, PromptMode, RunKind
from bot.core.taskconfig import PermissionsConfig, TaskConfig, TelemetryConfig
from bot.errors import OrchestratorError

TaskType = Literal["docs", "code"]
TASK_TYPES: dict[RunKind, TaskType] = {"DocsRun": "docs", "CodeRun": "code"}
TEMPLATE_SUFFIX = ".j2"
HOOKS_DIR = "hooks"
SHARED_DIR = "shared"
"""Templates both kinds include (`{% include "shared/..." %}`); never rendered on their own."""
HOOK_KEY_PREFIX = "hooks-"
_DOCS_FILES = frozenset({"container.sh", "CLAUDE.md", "settings.json", "prompt.md"})
_CODE_EXTRAS = frozenset({"mcp.json", "client-config.json", "coding-guidelines.md", "github-guidelines.md"})
REQUIRED_FILES: dict[TaskType, frozenset[str]] = {"docs": _DOCS_FILES, "code": _DOCS_FILES | _CODE_EXTRAS}
# A hook's file name says when it runs: `stop-commit.sh` is a Stop hook. Longest prefix first.
HOOK_EVENTS: tuple[tuple[str, str], ...] = (
    ("user-prompt-submit-", "UserPromptSubmit"),
    ("post-tool-use-", "PostToolUse"),
    ("pre-tool-use-", "PreToolUse"),
    ("session-start-", "SessionStart"),
    ("subagent-stop-", "SubagentStop"),
    ("notification-", "Notification"),
    ("pre-compact-", "PreCompact"),
    ("session-end-", "SessionEnd"),
    ("stop-", "Stop"),
)
_FILE_NAME = re.compile(r"^[A-Za-z0-9][-._A-Za-z0-9]*$")
"""ConfigMap keys allow `[-._a-zA-Z0-9]+`; a leading dot would hide the file in the mount."""


class RenderError(OrchestratorError):
    """A run cannot be rendered: invalid run, missing or broken template, undefined variable."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Paths are written into hook commands unquoted (`${CONFIG_DIR:-/config}`), so only plain ones.
AbsolutePath = Annotated[str, Field(pattern=r"^(/[A-Za-z0-9._-]+)+$")]


class Paths(_Frozen):
    """Where the Job mounts things; the scripts use these as defaults of overridable variables, so
    the Job and the scripts cannot disagree."""

    config_dir: AbsolutePath = "/config"
    managed_settings: AbsolutePath = "/etc/claude-code/managed-settings.json"
    ssh_key_dir: AbsolutePath = "/var/run/secrets/github-ssh"
    """Mounted in the ssh-agent sidecar only: the agent's container never sees the private key."""
    ssh_agent_socket: AbsolutePath = "/run/ssh-agent/agent.sock"
    workspace: AbsolutePath = "/workspace"
    home: AbsolutePath = "/home/agent"
    termination_log: AbsolutePath = "/dev/termination-log"


PATHS = Paths()


class Hook(_Frozen):
    name: str
    """File name without `.j2`, e.g. `stop-commit.sh`."""
    event: str
    """Claude Code hook event, e.g. `Stop`."""
    config_key: str
    """Its ConfigMap key, e.g. `hooks-stop-commit.sh`."""
    command: str
    """What Claude Code runs; the file is read from the read-only config mount."""


class CodeContext(_Frozen):
    """The CodeRun-only values. `None` in a docs context, so a docs template using them fails."""

    task_id: int
    service: str
    platform_repository_url: str
    local_tools: tuple[str, ...] = ()
    remote_tools: tuple[str, ...] = ()
    tool_config: str = "default"
    context_version: int = 1
    prompt_modification: str = ""
    prompt_mode: PromptMode = "append"
    continue_session: bool = False
    overwrite_memory: bool = False


class DocsContext(_Frozen):
    """The DocsRun-only values. `None` in a code context."""

    prompt_modification: str = ""
    continues: bool = False
    """The run continues a pull request: its branch already holds an earlier run's documentation."""


class TemplateContext(_Frozen):
    """Everything a template may use. Strings are not re-validated here on purpose: the run was
    validated by its resource model, and the template tests feed hostile strings straight in."""

    task_type: TaskType
    run_name: str
    namespace: str
    repository_url: str
    base_branch: str
    """Where the work starts: a DocsRun's `sourceBranch`, a CodeRun's `branch`."""
    work_branch: str
    """Where the agent's commits go: `docs/<run>` or `feature/task-<id>-<service>`."""
    working_directory: str
    model: str
    github_user: str
    git_user_email: str
    commit_message: str
    permissions: PermissionsConfig = PermissionsConfig()
    """The rules rendered into the managed settings: the config's, plus `agent_permissions`' additions."""
    telemetry_env: dict[str, str] = {}
    paths: Paths = PATHS
    code: CodeContext | None = None
    docs: DocsContext | None = None
    hooks: tuple[Hook, ...] = ()
    """Filled by `render_files` from the hook templates it finds."""

    @model_validator(mode="after")
    def _code_values_iff_code_run(self) -> Self:
        if (self.task_type == "code") != (self.code is not None):
            raise ValueError("code values are required for, and only for, task_type 'code'")
        if (self.task_type == "docs") != (self.docs is not None):
            raise ValueError("docs values are required for, and only for, task_type 'docs'")
        return self


@dataclass(frozen=True)
class ParsedRun:
    kind: RunKind
    name: str
    namespace: str
    uid: str | None
    spec: DocsRunSpec | CodeRunSpec
    attempt: int
    """CodeRun: `contextVersion`; DocsRun: the `orchestrator.platform/attempt` annotation (1 if absent)."""

    @property
    def task_type(self) -> TaskType:
        return TASK_TYPES[self.kind]


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors())


def parse_run(run: Mapping[str, Any]) -> ParsedRun:
    """Read a DocsRun/CodeRun manifest through its resource model; raise `RenderError` if it is not one."""
    kind = run.get("kind")
    metadata = run.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    if not isinstance(kind, str) or kind not in TASK_TYPES:
        raise RenderError(f"not a DocsRun or CodeRun: kind {kind!r}")
    # The Job is named after the run, and Job names must be DNS labels of at most 63 characters.
    if not isinstance(name, str) or len(name) > 63 or not re.match(DNS_LABEL, name):
        raise RenderError(f"{kind} name {name!r} is not a DNS label of at most 63 characters")
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise RenderError(f"{kind} {name}: metadata.namespace is required")
    spec_model = CodeRunSpec if kind == "CodeRun" else DocsRunSpec
    try:
        spec = spec_model.model_validate(run.get("spec") or {})
    except ValidationError as exc:
        raise RenderError(f"{kind} {name}: invalid spec: {_problems(exc)}") from None
    if isinstance(spec, CodeRunSpec):
        attempt = spec.context_version
    else:
        raw = (metadata.get("annotations") or {}).get("orchestrator.platform/attempt", "1")
        attempt = int(raw) if re.fullmatch(r"[0-9]{1,9}", str(raw)) and int(raw) > 0 else 1
    uid = metadata.get("uid")
    return ParsedRun(kind, name, namespace, uid if isinstance(uid, str) and uid else None, spec, attempt)


# OTLP exporters spell plain HTTP "http/protobuf"; the seed's config said "http".
_OTLP_PROTOCOLS = {"http": "http/protobuf"}


def telemetry_env(telemetry: TelemetryConfig) -> dict[str, str]:
    """The OpenTelemetry variables Claude Code reads; empty when telemetry is off. Used both in the
    managed settings' `env` and on the Job's container, from this one place."""
    if not telemetry.enabled or not telemetry.otlp_endpoint:
        return {}
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": _OTLP_PROTOCOLS.get(
            telemetry.otlp_protocol, telemetry.otlp_protocol
        ),
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": telemetry.otlp_endpoint,
    }
    if telemetry.logs_endpoint:
        env["OTEL_LOGS_EXPORTER"] = "otlp"
        env["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] = _OTLP_PROTOCOLS.get(
            telemetry.logs_protocol, telemetry.logs_protocol
        )
        env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = telemetry.logs_endpoint
    return env


def _tools(value: str | None) -> tuple[str, ...]:
    return tuple(tool for tool in (value or "").split(",") if tool)


REMOTE_TOOLS_SERVER = "remote-tools"


def mcp_servers(code: CodeContext | None) -> tuple[str, ...]:
    """The MCP servers `mcp.json` defines for a run: one per local tool, and the remote-tools
    client when remote tools are asked for. DocsRuns have none."""
    if code is None:
        return ()
    return code.local_tools + ((REMOTE_TOOLS_SERVER,) if code.remote_tools else ())


def agent_permissions(config: PermissionsConfig, code: CodeContext | None) -> PermissionsConfig:
    allow, deny = agent_rules(config.allow, config.deny, mcp_servers(code))
    return PermissionsConfig(allow=allow, deny=deny)


def work_branch(run: ParsedRun) -> str:
    """Where the run's agent pushes: its `workBranch` (a continuation: the pull request's head), else
    `docs/<run>` or `feature/task-<id>-<service>`."""
    spec = run.spec
    if spec.work_branch:
        return spec.work_branch
    if isinstance(spec, CodeRunSpec):
        return f"feature/task-{spec.task_id}-{spec.service}"
    return f"docs/{run.name}"


def build_context(run: Mapping[str, Any], config: TaskConfig) -> TemplateContext:
    """The one context for a run: its manifest (validated) plus the task config."""
    parsed = parse_run(run)
    spec = parsed.spec
    common = {
        "task_type": parsed.task_type,
        "run_name": parsed.name,
        "namespace": parsed.namespace,
        "repository_url": spec.repository_url,
        "working_directory": spec.working_directory,
        "model": spec.model,
        "github_user": spec.github_user,
        "git_user_email": f"{spec.github_user}@users.noreply.github.com",
        "permissions": agent_permissions(config.permissions, None),
        "telemetry_env": telemetry_env(config.telemetry),
    }
    if isinstance(spec, DocsRunSpec):
        return TemplateContext(
            **common,
            base_branch=spec.source_branch,
            work_branch=work_branch(parsed),
            commit_message=f"docs: documentation written by run {parsed.name}",
            docs=DocsContext(
                prompt_modification=spec.prompt_modification or "",
                continues=spec.work_branch is not None and spec.work_branch == spec.source_branch,
            ),
        )
    code = CodeContext(
        task_id=spec.task_id,
        service=spec.service,
        platform_repository_url=spec.platform_repository_url,
        local_tools=_tools(spec.local_tools),
        remote_tools=_tools(spec.remote_tools),
        tool_config=spec.tool_config,
        context_version=spec.context_version,
        prompt_modification=spec.prompt_modification or "",
        prompt_mode=spec.prompt_mode,
        continue_session=spec.continue_session,
        overwrite_memory=spec.overwrite_memory,
    )
    common["permissions"] = agent_permissions(config.permissions, code)
    return TemplateContext(
        **common,
        base_branch=spec.branch,
        work_branch=work_branch(parsed),
        commit_message=f"feat(task-{spec.task_id}): {spec.service} work from run {parsed.name}",
        code=code,
    )


# --- template sources and their ConfigMap keys -------------------------------------------------


def template_key(path: str) -> str:
    """`code/hooks/stop-commit.sh.j2` -> `code_hooks_stop-commit.sh.j2` (the Helm ConfigMap key)."""
    _check_template_path(path)
    return path.replace("/", "_")


def template_path(key: str) -> str:
    """The inverse of `template_key`. Unambiguous because the only nesting is `<kind>/[hooks/]<file>`."""
    kind, sep, rest = key.partition("_")
    if not sep or (kind not in REQUIRED_FILES and kind != SHARED_DIR):
        raise RenderError(f"template key {key!r} does not start with 'docs_', 'code_' or 'shared_'")
    if rest.startswith(HOOKS_DIR + "_"):
        rest = HOOKS_DIR + "/" + rest[len(HOOKS_DIR) + 1 :]
    path = f"{kind}/{rest}"
    _check_template_path(path)
    return path


def _check_template_path(path: str) -> None:
    parts = path.split("/")
    kind_ok = parts[0] in REQUIRED_FILES or parts[0] == SHARED_DIR
    shape_ok = len(parts) == 2 or (len(parts) == 3 and parts[1] == HOOKS_DIR and parts[0] != SHARED_DIR)
    if not (kind_ok and shape_ok and _FILE_NAME.match(parts[-1]) and path.endswith(TEMPLATE_SUFFIX)):
        raise RenderError(
            f"template path {path!r} is not <docs|code>/[hooks/]<name>{TEMPLATE_SUFFIX} "
            f"or {SHARED_DIR}/<name>{TEMPLATE_SUFFIX} with a name of letters, digits, '-', '_' and '.'"
        )


def hook_event(name: str) -> str:
    for prefix, event in HOOK_EVENTS:
        if name.startswith(prefix):
            return event
    prefixes = ", ".join(prefix for prefix, _ in HOOK_EVENTS)
    raise RenderError(f"hook {name!r} must start with one of {prefixes} (it says when the hook runs)")


def _output_key(kind: TaskType, path: str) -> str:
    _check_template_path(path)
    name = path.rsplit("/", 1)[-1].removesuffix(TEMPLATE_SUFFIX)
    return HOOK_KEY_PREFIX + name if path.startswith(f"{kind}/{HOOKS_DIR}/") else name


def _hooks(kind: TaskType, paths: list[str], config_dir: str) -> tuple[Hook, ...]:
    hooks = []
    for path in paths:
        if path.startswith(f"{kind}/{HOOKS_DIR}/"):
            key = _output_key(kind, path)
            name = key.removeprefix(HOOK_KEY_PREFIX)
            command = f'bash "${{CONFIG_DIR:-{config_dir}}}/{key}"'
            hooks.append(Hook(name=name, event=hook_event(name), config_key=key, command=command))
    return tuple(hooks)


# --- rendering ---------------------------------------------------------------------------------


def shell_quote(value: object) -> str:
    """One shell word for any value: strings via `shlex.quote`, booleans as `true`/`false`."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return shlex.quote(value)
    raise TypeError(f"shell_quote takes a string, integer or boolean, not {type(value).__name__}")


def to_json(value: object) -> str:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, ensure_ascii=False)


def template_environment(sources: Mapping[str, str]) -> jinja2.Environment:
    """Strict, no autoescape (nothing here is HTML), trailing newlines kept (scripts end in one)."""

    def load(name: str) -> tuple[str, str, Any] | None:
        # The file name is the template path, so tracebacks (and our errors) point into the template.
        return (sources[name], name, lambda: True) if name in sources else None

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - shell, JSON and Markdown, no HTML: escaping would corrupt them
        keep_trailing_newline=True,
    )
    environment.filters["shell_quote"] = shell_quote
    # Jinja's own tojson escapes for HTML and returns Markup; here JSON is JSON and a plain string.
    environment.filters["tojson"] = to_json
    return environment


def _template_line(path: str, traceback: TracebackType | None) -> str:
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == path:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return f"{path} line {line}" if line else path


def render_files(
    kind: TaskType | RunKind,
    sources: Mapping[str, str],
    context: TemplateContext,
    environment: jinja2.Environment | None = None,
) -> dict[str, str]:
    """Render every `<kind>/` template into the run's flat ConfigMap keys (`container.sh`,
    `hooks-stop-commit.sh`, ...). `kind` is `docs`/`code` or the run's `DocsRun`/`CodeRun`.
    `environment`, if given, is `template_environment(sources)` kept by the caller: it holds the
    compiled templates, so a controller rendering many runs compiles each template once.
    Raises `RenderError` naming the template and the problem."""
    if kind == "DocsRun" or kind == "CodeRun":
        kind = TASK_TYPES[kind]
    if context.task_type != kind:
        raise RenderError(f"a {context.task_type} context cannot render the {kind} templates")
    paths = sorted(path for path in sources if path.startswith(kind + "/"))
    keys = {path: _output_key(kind, path) for path in paths}
    missing = REQUIRED_FILES[kind] - set(keys.values())
    if missing:
        names = ", ".join(f"{kind}/{name}{TEMPLATE_SUFFIX}" for name in sorted(missing))
        raise RenderError(f"missing template(s): {names}")
    context = context.model_copy(update={"hooks": _hooks(kind, paths, context.paths.config_dir)})
    variables = {name: getattr(context, name) for name in type(context).model_fields}
    environment = environment or template_environment(sources)
    files = {}
    for path in paths:
        try:
            text = environment.get_template(path).render(variables)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{path} line {exc.lineno}: {exc.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:  # filters raise the latter two
            where = _template_line(path, exc.__traceback__)
            raise RenderError(f"{where}: {exc}") from None
        if keys[path].endswith(".json"):
            text = _normalized_json(path, text)
        files[keys[path]] = text
    return files


def _normalized_json(path: str, text: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(
            f"{path} did not render valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
