"""Settings from the environment, validated once at start-up.

Each concern has its own small model with its own environment prefix; `load_settings` composes them
and turns any validation failure into one `ConfigError` naming the variable, so the CLI can print one
line instead of a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.store.settings import StoreSettings
from bot.web.settings import WebSettings

MIB = 1024 * 1024
_M = TypeVar("_M", bound=BaseSettings)
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class GitHubSettings(BaseSettings):
    """The GitHub App's identity and the API it talks to (`GITHUB_*`)."""

    model_config = SettingsConfigDict(env_prefix="GITHUB_", extra="ignore")

    app_id: int = Field(gt=0)
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr
    api_url: AnyHttpUrl = AnyHttpUrl("https://api.github.com")

    @field_validator("webhook_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @property
    def api_base(self) -> str:
        """The API URL without a trailing slash, as gidgethub wants it."""
        return str(self.api_url).rstrip("/")


class OrchestratorSettings(BaseSettings):
    """How the bot behaves (`ORCHESTRATOR_*`)."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", extra="ignore")

    namespace: str = Field(default="orchestrator", pattern=DNS_LABEL_PATTERN, max_length=63)
    webhook_path: str = Field(default="/webhook", pattern=r"^/[A-Za-z0-9/_.-]*$")
    max_body_bytes: int = Field(default=25 * MIB, gt=0)
    docs_label: str = Field(default="docs", min_length=1)
    code_label: str = Field(default="code", min_length=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    templates_dir: Path | None = None
    permission_cache_seconds: float = Field(default=60.0, ge=0)
    redelivery_interval_seconds: float = Field(default=60.0, ge=0)
    """How often the controller asks GitHub to redeliver failed webhook deliveries; 0 turns it off."""
    redelivery_window_seconds: float = Field(default=6 * 3600, gt=0, le=3 * 24 * 3600)
    """Only deliveries that failed this recently are redelivered (GitHub keeps its log for 3 days)."""


class Settings(BaseModel):
    """Everything `serve` and `controller` need, composed from the per-concern models."""

    github: GitHubSettings
    orchestrator: OrchestratorSettings
    kubeconfig: Path | None = None
    store: StoreSettings = Field(default_factory=lambda: StoreSettings.model_construct())
    web: WebSettings = Field(default_factory=lambda: WebSettings.model_construct())

    @property
    def run_page(self) -> bool:
        """The run page is served (and linked from GitHub): a store and sign-in are configured."""
        return self.store.url is not None and self.web.sign_in

    def private_key_pem(self) -> str:
        """The App's private key as PEM text (from the variable or the file); validated at load."""
        return _read_private_key(self.github)


def load_settings() -> Settings:
    """Build settings from the process environment or raise `ConfigError` naming the variable."""
    github = _build(GitHubSettings)
    orchestrator = _build(OrchestratorSettings)
    store = _build(StoreSettings)
    web = _build(WebSettings)
    for variable in web.missing():
        raise ConfigError(variable, "is required when GITHUB_CLIENT_ID is set (sign-in to the run page)")
    if web.sign_in and store.url is None:
        raise ConfigError("ORCHESTRATOR_STORE_URL", "is required when GITHUB_CLIENT_ID is set (the run page)")
    _read_private_key(github)
    kubeconfig = _first_kubeconfig(os.environ.get("KUBECONFIG", ""))
    if kubeconfig is not None and not kubeconfig.is_file():
        raise ConfigError("KUBECONFIG", f"file {kubeconfig} does not exist")
    return Settings(github=github, orchestrator=orchestrator, kubeconfig=kubeconfig, store=store, web=web)


def _first_kubeconfig(value: str) -> Path | None:
    first = value.split(os.pathsep)[0].strip()
    return Path(first) if first else None


def _build(model: type[_M]) -> _M:
    prefix = str(model.model_config.get("env_prefix", ""))
    try:
        return model()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        variable = prefix + field.upper() if field else prefix.rstrip("_")
        problem = "is required but not set" if first["type"] == "missing" else _plain(first["msg"])
        raise ConfigError(variable, problem) from None


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ").rstrip(".")


def _read_private_key(github: GitHubSettings) -> str:
    if github.private_key is not None and github.private_key_path is not None:
        raise ConfigError(
            "GITHUB_PRIVATE_KEY", "set either GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, not both"
        )
    if github.private_key is not None:
        variable, pem = "GITHUB_PRIVATE_KEY", github.private_key.get_secret_value()
    elif github.private_key_path is not None:
        variable = "GITHUB_PRIVATE_KEY_PATH"
        try:
            pem = github.private_key_path.read_text()
        except OSError as exc:
            raise ConfigError(variable, f"cannot read {github.private_key_path}: {exc.strerror}") from None
    else:
        raise ConfigError("GITHUB_PRIVATE_KEY", "is required (or GITHUB_PRIVATE_KEY_PATH) but neither is set")
    # Kubernetes secrets and CI variables often carry the key with literal "\n" sequences.
    pem = pem.replace("\\n", "\n").strip() + "\n"
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # The message from cryptography never contains key material, but ours is shorter.
        raise ConfigError(variable, "is not a PEM-encoded private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(variable, "must be an RSA key (GitHub Apps sign their JWTs with RS256)")
    return pem
