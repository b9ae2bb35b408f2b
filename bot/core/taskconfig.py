"""The job settings in the ConfigMap `task-controller-config`, key `config.yaml`.

Everything that decides how an agent runs (image, API key secret, models, deadline) is required: a
missing value stops the controller with a clear message instead of running the wrong thing. Read by the
controller (Jobs) and by the webhook service (model allow-list and defaults).
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

import yaml
from pydantic import Field, ValidationError, model_validator

from bot.core.permissions import CLI_VERSION, rule_problems
from bot.core.repositories import repository_address
from bot.core.resources import DNS_SUBDOMAIN, MODEL_NAME, REPOSITORY_URL, CamelModel, GitHubLogin

CONFIGMAP_NAME = "task-controller-config"
CONFIGMAP_KEY = "config.yaml"


class JobConfig(CamelModel):
    active_deadline_seconds: int = Field(ge=1, le=7 * 24 * 3600)


class ImageConfig(CamelModel):
    repository: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9./_:-]*$")
    tag: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


class AgentConfig(CamelModel):
    image: ImageConfig
    image_pull_secrets: list[str] = Field(default_factory=list)


class SecretsConfig(CamelModel):
    api_key_secret_name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    api_key_secret_key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$")


class PermissionsConfig(CamelModel):
    """The agent's tool permissions, rendered into its managed settings.json. Every rule must mean
    to the agent's CLI what it seems to mean (`bot.core.permissions`)."""

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules_mean_what_they_say(self) -> Self:
        problems = rule_problems([*self.allow, *self.deny])
        if problems:
            raise ValueError(f"rules Claude Code {CLI_VERSION} would misread: " + "; ".join(problems))
        return self


WorkspaceScope = Literal["user", "repository"]


class WorkspaceConfig(CamelModel):
    """A CodeRun's persistent workspace (clone, sessions, memory) belongs to one repository and
    service and, with scope `user`, one person: runs of different people never share files. Scope
    `repository` lets everyone's runs of a service share sessions and memory, and so trust each
    other's agents."""

    scope: WorkspaceScope = "user"
    size: str = Field(default="10Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")


class TelemetryConfig(CamelModel):
    enabled: bool = False
    otlp_endpoint: str | None = None
    otlp_protocol: str = "grpc"
    logs_endpoint: str | None = None
    logs_protocol: str = "http"

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> Self:
        if self.enabled and not self.otlp_endpoint:
            raise ValueError("telemetry.otlpEndpoint is required when telemetry.enabled is true")
        return self


class ModelsConfig(CamelModel):
    allowed: list[str] = Field(min_length=1)
    default_docs: str
    default_code: str

    @model_validator(mode="after")
    def _defaults_are_allowed(self) -> Self:
        for name in self.allowed:
            if not re.match(MODEL_NAME, name):
                raise ValueError(f"models.allowed: {name!r} is not a full model name")
        for field, value in (("defaultDocs", self.default_docs), ("defaultCode", self.default_code)):
            if value not in self.allowed:
                raise ValueError(f"models.{field} {value!r} is not in models.allowed")
        return self


class CleanupConfig(CamelModel):
    """How long finished Jobs (not runs) stay, so logs can be read; the run keeps its status."""

    succeeded_ttl_seconds: int = Field(default=600, ge=0)
    failed_ttl_seconds: int = Field(default=86400, ge=0)


class RunDefaults(CamelModel):
    """Defaults the webhook fills into runs; the platform repository defaults to the target repo."""

    platform_repository_url: str | None = Field(default=None, pattern=REPOSITORY_URL)
    working_directory: str = "."


class RepositoriesConfig(CamelModel):
    """Where runs may take their task documents from (`--platform-repo`, `defaults.platformRepositoryUrl`):
    always the GitHub the bot serves; `allowedOwners` lists the owners (users or organisations)
    allowed there. Not set: only the owner of the repository the command was given on."""

    allowed_owners: list[GitHubLogin] | None = Field(default=None, min_length=1)


class SchedulingConfig(CamelModel):
    """How many agents run at once, and how long a run may wait for its turn (bot.core.schedule).
    One agent per workspace always; 0 means no limit."""

    max_active_runs: int = Field(default=10, ge=0, le=10_000)
    max_active_runs_per_user: int = Field(default=3, ge=0, le=10_000)
    max_queue_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)


class TaskConfig(CamelModel):
    job: JobConfig
    agent: AgentConfig
    secrets: SecretsConfig
    models: ModelsConfig
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    cleanup: CleanupConfig = Field(default_factory=CleanupConfig)
    defaults: RunDefaults = Field(default_factory=RunDefaults)
    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    scheduling: SchedulingConfig = Field(default_factory=SchedulingConfig)
    iterate_on_reviews: bool = False
    """A review requesting changes, by someone who may run commands, on a pull request a run produced,
    continues that run with the review as its prompt."""
    repositories: RepositoriesConfig = Field(default_factory=RepositoriesConfig)

    @model_validator(mode="after")
    def _default_platform_repository_is_allowed(self) -> Self:
        """The default obeys the rule `--platform-repo` does; its owner must be listed, since a fixed
        default cannot follow "the owner of the repository the command was given on"."""
        url = self.defaults.platform_repository_url
        if url is None:
            return self
        found = repository_address(url)
        if found is None:
            raise ValueError(
                f"defaults.platformRepositoryUrl {url!r} must be an SSH or HTTPS GitHub repository URL "
                "without a port"
            )
        owners = {owner.lower() for owner in self.repositories.allowed_owners or []}
        if found.owner.lower() not in owners:
            raise ValueError(
                f"defaults.platformRepositoryUrl: its owner {found.owner!r} must be listed in "
                "repositories.allowedOwners"
            )
        return self


class TaskConfigError(ValueError):
    """config.yaml is missing, not YAML, or not valid; the message says where."""


def parse_task_config(text: str) -> TaskConfig:
    """Parse config.yaml text; raises `TaskConfigError` with one readable line per problem."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise TaskConfigError(f"{CONFIGMAP_KEY} is not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict):
        raise TaskConfigError(f"{CONFIGMAP_KEY} must be a mapping of settings")
    try:
        return TaskConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            what = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {what}" if where else what)
        raise TaskConfigError(f"{CONFIGMAP_KEY}: " + "; ".join(problems)) from None
