"""The DocsRun and CodeRun custom resources: one pydantic model per spec and status.

These models are the single source of truth: the CRDs in `k8s/crds/` are generated from them
(`bot.core.crds`), the webhook builds specs through them and the controller reads runs through them,
so a field's name, case, type and default can never drift between code and cluster.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "orchestrator.platform"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Patterns are checked by the apiserver with Go's RE2, so no lookarounds or backreferences.
# GitHub logins: alphanumerics and hyphens, not at either end; at most 39 characters.
GITHUB_LOGIN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?$"
# SSH (git@github.com:owner/repo.git, ssh://git@host/owner/repo) or HTTPS GitHub repository URLs.
REPOSITORY_URL = (
    r"^(git@[A-Za-z0-9.-]+:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(\.git)?"
    r"|ssh://git@[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(\.git)?"
    r"|https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(\.git)?)$"
)
# A relative path: "." or segments that are never "." or "..", no absolute root, no shell metacharacters.
_PATH_SEGMENT = r"(\.[A-Za-z0-9_-][A-Za-z0-9_.-]*|[A-Za-z0-9_][A-Za-z0-9_.-]*)"
RELATIVE_PATH = rf"^(\.|{_PATH_SEGMENT}(/{_PATH_SEGMENT})*)$"
# Branch names git accepts, kept simple: no "..", "//", "./", leading "-", or trailing "/" or ".".
BRANCH = r"^[A-Za-z0-9_]([A-Za-z0-9_+-]|[./][A-Za-z0-9_+-])*$"
MODEL_NAME = r"^[a-z0-9][a-z0-9.-]{2,99}$"
# Run names made by bot.core.runs: kind prefix, readable middle, hash suffix; a DNS-1123 label.
RUN_NAME = r"^(code|docs)-[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$"
TOOL_LIST = r"^[A-Za-z0-9_.:@/-]+(,[A-Za-z0-9_.:@/-]+)*$"

Phase = Literal["Queued", "Pending", "Running", "Succeeded", "Failed", "Cancelled"]
PromptMode = Literal["append", "replace"]
ACTIVE_PHASES: tuple[Phase, ...] = ("Queued", "Pending", "Running")
FINISHED_PHASES: tuple[Phase, ...] = ("Succeeded", "Failed", "Cancelled")


class CamelModel(BaseModel):
    """Fields are snake_case in Python and camelCase in the cluster; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_manifest(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


RepositoryUrl = Annotated[str, Field(pattern=REPOSITORY_URL, max_length=300)]
Branch = Annotated[str, Field(pattern=BRANCH, max_length=200)]
RelativePath = Annotated[str, Field(pattern=RELATIVE_PATH, max_length=300)]
ModelName = Annotated[str, Field(pattern=MODEL_NAME, max_length=100)]
GitHubLogin = Annotated[str, Field(pattern=GITHUB_LOGIN, max_length=39)]


class DocsRunSpec(CamelModel):
    """What a `/docs` command asks for."""

    repository_url: RepositoryUrl = Field(description="Repository to document (SSH or HTTPS GitHub URL).")
    working_directory: RelativePath = Field(description="Directory inside the repository, relative, no '..'.")
    source_branch: Branch = Field(description="Branch the documentation is written from.")
    model: ModelName = Field(description="Full model name from the configured allow-list.")
    github_user: GitHubLogin = Field(description="GitHub login the run acts as; its SSH secret is mounted.")
    prompt_modification: str | None = Field(
        default=None,
        max_length=20_000,
        description="Extra instructions for this run (a continuation's request or review).",
    )
    work_branch: Branch | None = Field(
        default=None,
        description="Branch the agent's commits go to; default docs/<run>. A run that continues a pull "
        "request pushes to its head branch.",
    )


class CodeRunSpec(CamelModel):
    """What a `/code` command asks for."""

    task_id: int = Field(
        ge=1, description="Task number under .taskmaster/docs/task-<id>/ in the platform repo."
    )
    service: str = Field(pattern=DNS_LABEL, max_length=53, description="Service name (DNS-1123 label).")
    repository_url: RepositoryUrl = Field(description="Target repository the agent works on.")
    platform_repository_url: RepositoryUrl = Field(description="Repository holding the task definitions.")
    branch: Branch = Field(description="Branch the work starts from.")
    working_directory: RelativePath = Field(description="Directory inside the repository, relative, no '..'.")
    model: ModelName = Field(description="Full model name from the configured allow-list.")
    github_user: GitHubLogin = Field(description="GitHub login the run acts as; its SSH secret is mounted.")
    local_tools: str | None = Field(
        default=None, pattern=TOOL_LIST, max_length=500, description="Comma list of local MCP tools."
    )
    remote_tools: str | None = Field(
        default=None, pattern=TOOL_LIST, max_length=500, description="Comma list of remote MCP tools."
    )
    tool_config: str = Field(default="default", pattern=DNS_LABEL, max_length=63, description="Tool preset.")
    context_version: int = Field(default=1, ge=1, description="Incremented by each retry of the same task.")
    prompt_modification: str | None = Field(
        default=None,
        max_length=20_000,
        description="Extra instructions for this run (a continuation's review, with its inline comments).",
    )
    prompt_mode: PromptMode = Field(default="append", description="How promptModification meets the prompt.")
    continue_session: bool = Field(default=False, description="Continue the agent's previous session.")
    overwrite_memory: bool = Field(
        default=False, description="Replace an existing CLAUDE.md in the workspace."
    )
    work_branch: Branch | None = Field(
        default=None,
        description="Branch the agent's commits go to; default feature/task-<id>-<service>. A run that "
        "continues a pull request pushes to its head branch.",
    )


class Condition(CamelModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ProgressTodo(CamelModel):
    content: str = Field(max_length=300)
    status: Literal["pending", "in_progress", "completed"]


class ProgressResult(CamelModel):
    """How the agent's transcript ended: its `result` line, or its absence once the log ended."""

    outcome: Literal["success", "failure"]
    subtype: str | None = Field(default=None, max_length=100, description="The result line's subtype.")
    error: str | None = Field(default=None, max_length=2000, description="Why the agent failed.")
    num_turns: int | None = Field(default=None, ge=0)
    duration_ms: int | None = Field(default=None, ge=0)


class RunProgress(CamelModel):
    """What the agent's transcript says so far (redacted), written by the controller's log follower."""

    todos_done: int = Field(default=0, ge=0)
    todos_total: int = Field(default=0, ge=0)
    todos: list[ProgressTodo] = Field(default_factory=list, description="The agent's latest todo list.")
    turns: int = Field(default=0, ge=0, description="The result's num_turns, or the model's replies so far.")
    cost_usd: float | None = Field(default=None, ge=0, description="Total cost, from the result line.")
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    last_activity: str | None = Field(default=None, max_length=500, description="What the agent did last.")
    lines: int = Field(default=0, ge=0, description="Lines of the agent's log read so far.")
    ended: bool = Field(default=False, description="The agent's container has stopped.")
    result: ProgressResult | None = None
    tail: list[str] = Field(default_factory=list, description="The activity log's last lines.")
    updated_at: str | None = None


class DocsRunStatus(CamelModel):
    phase: Phase | None = None
    message: str | None = None
    last_update: str | None = None
    job_name: str | None = None
    configmap_name: str | None = None
    pull_request_url: str | None = None
    branch: str | None = Field(default=None, description="Branch the agent pushed, from its result.")
    commit: str | None = Field(default=None, description="The commit the agent's work ended on.")
    session_id: str | None = Field(default=None, description="The agent's session, from its transcript.")
    waiting_for: str | None = Field(
        default=None, description="While Queued for a workspace: the run using it, which this one waits for."
    )
    conditions: list[Condition] = Field(default_factory=list)
    progress: RunProgress | None = None


class CodeRunStatus(DocsRunStatus):
    retry_count: int | None = None
    context_version: int | None = None


RunKind = Literal["DocsRun", "CodeRun"]
SPEC_MODELS: dict[RunKind, type[CamelModel]] = {"DocsRun": DocsRunSpec, "CodeRun": CodeRunSpec}
STATUS_MODELS: dict[RunKind, type[CamelModel]] = {"DocsRun": DocsRunStatus, "CodeRun": CodeRunStatus}
PLURALS: dict[RunKind, str] = {"DocsRun": "docsruns", "CodeRun": "coderuns"}
SHORT_NAMES: dict[RunKind, str] = {"DocsRun": "dr", "CodeRun": "cr"}
