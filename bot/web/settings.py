"""The run page's settings: where the bot is reached, and the App's OAuth credentials for sign-in.

The page is served when the store is set (`ORCHESTRATOR_STORE_URL`) and sign-in is configured
(`GITHUB_CLIENT_ID` with the rest below); otherwise `serve` answers only webhooks, as before.
"""

from __future__ import annotations

from pydantic import AliasChoices, AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SESSION_SECRET_LENGTH = 32


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    public_url: AnyHttpUrl | None = Field(
        default=None, validation_alias=AliasChoices("ORCHESTRATOR_PUBLIC_URL", "public_url")
    )
    """The bot's external URL (`https://bot.example.com`): the run pages' links and the OAuth callback."""
    session_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ORCHESTRATOR_SESSION_SECRET", "session_secret")
    )
    """Signs and encrypts the session cookie and the stored user tokens."""
    client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("GITHUB_CLIENT_ID", "client_id")
    )
    client_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GITHUB_CLIENT_SECRET", "client_secret")
    )
    web_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://github.com"), validation_alias=AliasChoices("GITHUB_WEB_URL", "web_url")
    )
    """GitHub's web address (the OAuth pages): github.com, a GitHub Enterprise Server, the local GitHub."""

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SESSION_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SESSION_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)"
            )
        return value

    @property
    def sign_in(self) -> bool:
        return bool(self.client_id)

    @property
    def public_base(self) -> str | None:
        return str(self.public_url).rstrip("/") if self.public_url else None

    @property
    def web_base(self) -> str:
        return str(self.web_url).rstrip("/")

    def missing(self) -> list[str]:
        """With sign-in configured, the variables it still needs."""
        if not self.sign_in:
            return []
        wanted = {
            "GITHUB_CLIENT_SECRET": self.client_secret,
            "ORCHESTRATOR_SESSION_SECRET": self.session_secret,
            "ORCHESTRATOR_PUBLIC_URL": self.public_url,
        }
        return [name for name, value in wanted.items() if not value]
