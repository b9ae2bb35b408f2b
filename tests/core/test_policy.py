"""Who may run commands, and with which secret."""

from __future__ import annotations

import pytest

from bot.core.policy import decide_secret, decide_sender, is_automation, role_of, ssh_secret_name


@pytest.mark.parametrize(
    ("answer", "role"),
    [
        pytest.param({"permission": "write", "role_name": "write"}, "write", id="write"),
        pytest.param(
            {"permission": "write", "role_name": "maintain"}, "maintain", id="maintain folded into write"
        ),
        pytest.param({"permission": "read", "role_name": "triage"}, "triage", id="triage folded into read"),
        pytest.param({"permission": "admin"}, "admin", id="legacy answer without role_name"),
        pytest.param({"permission": "none", "role_name": "none"}, "none", id="none"),
        pytest.param({"role_name": "custom-role"}, "none", id="unknown custom role decides no"),
        pytest.param({}, "none", id="empty answer"),
        pytest.param(None, "none", id="no answer"),
    ],
)
def test_role_of(answer: dict[str, object] | None, role: str) -> None:
    assert role_of(answer) == role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("none", False),
        ("read", False),
        ("triage", False),
        ("write", True),
        ("maintain", True),
        ("admin", True),
    ],
)
def test_write_or_more_is_required(role: str, allowed: bool) -> None:
    decision = decide_sender("alice", "User", role, "write")
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reply
        assert decision.reason == (
            f"@alice only people with write access to this repository can run this command (your access: {role})."
        )


@pytest.mark.parametrize(
    ("login", "account_type"),
    [("dependabot[bot]", "Bot"), ("orchestrator-bot[bot]", "Bot"), ("renovate[bot]", None), ("ci", "Bot")],
)
def test_bots_are_ignored_silently_whatever_their_permission(login: str, account_type: str | None) -> None:
    assert is_automation(login, account_type)
    decision = decide_sender(login, account_type, "admin", "write")
    assert not decision.allowed
    assert not decision.reply


def test_failed_permission_lookup_decides_no() -> None:
    decision = decide_sender("alice", "User", None, "write")
    assert not decision.allowed
    assert "could not check your permission" in decision.reason


def test_secret_name_is_the_lower_cased_login() -> None:
    assert ssh_secret_name("Alice-Dev") == "github-ssh-alice-dev"


def test_present_secret_with_both_keys_is_allowed() -> None:
    assert decide_secret("alice", frozenset({"ssh-privatekey", "ssh-publickey"}), "orchestrator").allowed


def test_missing_secret_reply_says_how_to_create_it() -> None:
    decision = decide_secret("Alice", None, "orchestrator")
    assert not decision.allowed
    assert "`github-ssh-alice` in namespace `orchestrator` does not exist" in decision.reason
    assert "kubectl create secret generic github-ssh-alice -n orchestrator" in decision.reason
    assert "--from-file=ssh-privatekey=" in decision.reason
    assert "--from-file=ssh-publickey=" in decision.reason


def test_secret_without_the_public_key_is_refused() -> None:
    decision = decide_secret("alice", frozenset({"ssh-privatekey"}), "ns")
    assert not decision.allowed
    assert "lacks the key(s) ssh-publickey" in decision.reason
