"""Shared fixtures: settings built from a throw-away App key, and the webhook app over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.config import Settings, load_settings

WEBHOOK_SECRET = "It's a Secret to Everybody"


@pytest.fixture(scope="session")
def app_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def bot_env(
    monkeypatch: pytest.MonkeyPatch, app_private_key_pem: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """A complete, valid environment for the bot; tests change single variables on top of it."""
    for name in ("GITHUB_PRIVATE_KEY_PATH", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": app_private_key_pem,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "ORCHESTRATOR_NAMESPACE": "orchestrator",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


@pytest.fixture
def settings(bot_env: dict[str, str]) -> Settings:
    return load_settings()
