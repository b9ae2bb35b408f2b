"""Settings: a complete environment loads; each missing or bad variable stops with its own name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


def test_complete_environment_loads_with_defaults(bot_env: dict[str, str]) -> None:
    settings = load_settings()
    assert settings.github.app_id == 12345
    assert settings.github.webhook_secret.get_secret_value() == bot_env["GITHUB_WEBHOOK_SECRET"]
    assert settings.orchestrator.namespace == "orchestrator"
    assert settings.orchestrator.webhook_path == "/webhook"
    assert settings.orchestrator.max_body_bytes == 25 * 1024 * 1024
    assert settings.private_key_pem().startswith("-----BEGIN PRIVATE KEY-----")


def test_the_run_page_is_served_with_a_store_and_sign_in(
    bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().run_page is False  # neither: progress on GitHub only, as before
    for name, value in {
        "ORCHESTRATOR_STORE_URL": "postgresql://bot:pw@db:5432/runs",
        "GITHUB_CLIENT_ID": "Iv23liabc",
        "GITHUB_CLIENT_SECRET": "s" * 40,
        "ORCHESTRATOR_SESSION_SECRET": "x" * 32,
        "ORCHESTRATOR_PUBLIC_URL": "https://bot.example.com/",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.run_page and settings.web.public_base == "https://bot.example.com"
    assert settings.web.web_base == "https://github.com" and settings.store.retention_days == 30
    assert "pw" not in repr(settings)


def test_api_url_defaults_to_github_com(bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_API_URL")
    assert load_settings().github.api_base == "https://api.github.com"


def test_private_key_can_come_from_a_file(
    bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(bot_env["GITHUB_PRIVATE_KEY"])
    monkeypatch.delenv("GITHUB_PRIVATE_KEY")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY_PATH", str(key_file))
    assert load_settings().private_key_pem() == bot_env["GITHUB_PRIVATE_KEY"].strip() + "\n"


def test_private_key_with_escaped_newlines_is_accepted(
    bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", bot_env["GITHUB_PRIVATE_KEY"].replace("\n", "\\n"))
    assert "\\n" not in load_settings().private_key_pem()


@pytest.mark.parametrize(
    ("change", "variable", "problem"),
    [
        pytest.param(
            {"GITHUB_APP_ID": None}, "GITHUB_APP_ID", "is required but not set", id="app id missing"
        ),
        pytest.param({"GITHUB_APP_ID": "abc"}, "GITHUB_APP_ID", "valid integer", id="app id not a number"),
        pytest.param({"GITHUB_APP_ID": "0"}, "GITHUB_APP_ID", "greater than 0", id="app id zero"),
        pytest.param(
            {"GITHUB_WEBHOOK_SECRET": None},
            "GITHUB_WEBHOOK_SECRET",
            "is required but not set",
            id="secret missing",
        ),
        pytest.param(
            {"GITHUB_WEBHOOK_SECRET": ""}, "GITHUB_WEBHOOK_SECRET", "must not be empty", id="secret empty"
        ),
        pytest.param({"GITHUB_PRIVATE_KEY": None}, "GITHUB_PRIVATE_KEY", "neither is set", id="key missing"),
        pytest.param(
            {"GITHUB_PRIVATE_KEY": "not a key"},
            "GITHUB_PRIVATE_KEY",
            "not a PEM-encoded private key",
            id="key garbage",
        ),
        pytest.param(
            {"GITHUB_PRIVATE_KEY_PATH": "/nonexistent/app.pem"},
            "GITHUB_PRIVATE_KEY",
            "not both",
            id="key twice",
        ),
        pytest.param({"GITHUB_API_URL": "not a url"}, "GITHUB_API_URL", "URL", id="api url invalid"),
        pytest.param(
            {"ORCHESTRATOR_NAMESPACE": "Bad_Namespace"},
            "ORCHESTRATOR_NAMESPACE",
            "pattern",
            id="namespace invalid",
        ),
        pytest.param(
            {"ORCHESTRATOR_MAX_BODY_BYTES": "-1"},
            "ORCHESTRATOR_MAX_BODY_BYTES",
            "greater than 0",
            id="limit negative",
        ),
        pytest.param(
            {"ORCHESTRATOR_WEBHOOK_PATH": "webhook"},
            "ORCHESTRATOR_WEBHOOK_PATH",
            "pattern",
            id="path not absolute",
        ),
        pytest.param(
            {"KUBECONFIG": "/nonexistent/kubeconfig"}, "KUBECONFIG", "does not exist", id="kubeconfig gone"
        ),
        pytest.param(
            {"ORCHESTRATOR_STORE_URL": "mysql://db/runs"},
            "ORCHESTRATOR_STORE_URL",
            "must start with sqlite:/// or postgresql://",
            id="store of an unknown kind",
        ),
        pytest.param(
            {"ORCHESTRATOR_STORE_RETENTION_DAYS": "0"},
            "ORCHESTRATOR_STORE_RETENTION_DAYS",
            "greater than 0",
            id="retention zero",
        ),
        pytest.param(
            {"GITHUB_CLIENT_ID": "Iv23liabc"},
            "GITHUB_CLIENT_SECRET",
            "is required when GITHUB_CLIENT_ID is set",
            id="sign-in without its secret",
        ),
        pytest.param(
            {"ORCHESTRATOR_SESSION_SECRET": "short"},
            "ORCHESTRATOR_SESSION_SECRET",
            "at least 32 characters",
            id="session secret short",
        ),
        pytest.param({"GITHUB_WEB_URL": "github"}, "GITHUB_WEB_URL", "URL", id="web url invalid"),
        pytest.param(
            {
                "GITHUB_CLIENT_ID": "Iv23liabc",
                "GITHUB_CLIENT_SECRET": "s" * 40,
                "ORCHESTRATOR_SESSION_SECRET": "x" * 32,
                "ORCHESTRATOR_PUBLIC_URL": "https://bot.example.com",
            },
            "ORCHESTRATOR_STORE_URL",
            "is required when GITHUB_CLIENT_ID is set",
            id="sign-in without a store",
        ),
    ],
)
def test_bad_variable_is_named_in_one_error(
    bot_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str | None],
    variable: str,
    problem: str,
) -> None:
    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert raised.value.variable == variable
    assert problem in raised.value.problem


def test_key_from_unreadable_path_is_named(bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_PRIVATE_KEY")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY_PATH", "/nonexistent/app.pem")
    with pytest.raises(ConfigError, match=r"^GITHUB_PRIVATE_KEY_PATH: cannot read /nonexistent/app.pem"):
        load_settings()


def test_config_error_never_contains_the_key(
    bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    truncated = bot_env["GITHUB_PRIVATE_KEY"][:200]
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", truncated)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert truncated[40:80] not in str(raised.value)


def test_cli_prints_one_line_without_traceback(bot_env: dict[str, str]) -> None:
    env = {k: v for k, v in bot_env.items() if k != "GITHUB_APP_ID"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestrator-bot: configuration error: GITHUB_APP_ID: is required but not set"
    ]
    assert "Traceback" not in done.stderr


def test_cli_check_config_reports_ok(bot_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"], env=bot_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "configuration OK: GitHub App 12345" in done.stdout
