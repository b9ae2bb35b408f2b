"""Who may start runs, and with which key. Pure decisions with a reason for the user and the logs.

Unknown or failed lookups decide "no". The run always acts as the sender, with the sender's own SSH
secret: there is no fallback to another user's key, a token or HTTPS credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Permission = Literal["read", "triage", "write", "maintain", "admin"]

ROLE_RANK: dict[str, int] = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
SSH_PRIVATE_KEY = "ssh-privatekey"
SSH_PUBLIC_KEY = "ssh-publickey"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    """Said to the user (when `reply` is true) and always logged."""
    reply: bool = True


ALLOWED = Decision(True, "allowed", reply=False)


def is_automation(login: str, account_type: str | None) -> bool:
    """Bots, including this App itself ("<slug>[bot]"), never start runs; they get no reply either,
    so two bots cannot talk to each other forever."""
    return account_type == "Bot" or login.endswith("[bot]")


def role_of(permission_answer: dict[str, object] | None) -> str:
    """The collaborator's role from GitHub's permission answer: `role_name` distinguishes triage and
    maintain, which the legacy `permission` field folds into read and write."""
    if not permission_answer:
        return "none"
    role = permission_answer.get("role_name") or permission_answer.get("permission") or "none"
    return str(role) if str(role) in ROLE_RANK else "none"


def decide_sender(login: str, account_type: str | None, role: str | None, required: Permission) -> Decision:
    if is_automation(login, account_type):
        return Decision(False, f"{login} is a bot", reply=False)
    if role is None:
        return Decision(
            False, f"@{login} I could not check your permission on this repository, so nothing was started."
        )
    if ROLE_RANK.get(role, 0) < ROLE_RANK[required]:
        return Decision(
            False,
            f"@{login} only people with {required} access to this repository can run this command "
            f"(your access: {role}).",
        )
    return ALLOWED


def ssh_secret_name(login: str) -> str:
    return f"github-ssh-{login.lower()}"


def decide_secret(login: str, secret_keys: frozenset[str] | None, namespace: str) -> Decision:
    """`secret_keys` are the data keys of the sender's secret, or None if it does not exist."""
    missing = {SSH_PRIVATE_KEY, SSH_PUBLIC_KEY} - (secret_keys or frozenset())
    if not missing:
        return ALLOWED
    name = ssh_secret_name(login)
    what = "does not exist" if secret_keys is None else f"lacks the key(s) {', '.join(sorted(missing))}"
    return Decision(
        False,
        f"@{login} runs act as you, with your own SSH key, and the secret `{name}` in namespace "
        f"`{namespace}` {what}. An admin of the cluster (or you, with access) can create it:\n\n"
        f"```sh\nkubectl create secret generic {name} -n {namespace} \\\n"
        f"  --from-file={SSH_PRIVATE_KEY}=$HOME/.ssh/id_ed25519 \\\n"
        f"  --from-file={SSH_PUBLIC_KEY}=$HOME/.ssh/id_ed25519.pub\n```\n\n"
        "Use a key that GitHub knows as yours (or a deploy key with write access), then comment again.",
    )
