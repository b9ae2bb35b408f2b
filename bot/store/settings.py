"""The store's settings (`ORCHESTRATOR_STORE_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.store import store_url_problem


class StoreSettings(BaseSettings):
    """Where runs and transcripts are kept. Unset: nowhere (no run page; progress on GitHub only)."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_STORE_", extra="ignore")

    url: SecretStr | None = None
    """`sqlite:///path` or `postgresql://user:password@host:5432/db` (a secret: it may hold a password)."""
    retention_days: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        problem = store_url_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value
