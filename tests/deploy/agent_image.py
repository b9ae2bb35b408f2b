"""What the agent image (agent/Dockerfile) provides: the programs of its base image, of the Debian
packages it installs and of the npm packages it installs globally. Shared by the image's own tests
and by the job-run tests, which check the programs the scripts really ran against it."""

from __future__ import annotations

import re
from pathlib import Path

import dockerfile

AGENT_DOCKERFILE = Path(__file__).resolve().parents[2] / "agent" / "Dockerfile"
BASE_IMAGE = re.compile(r"node:20(\.\d+){0,2}-bookworm-slim")
# node:20-bookworm-slim: Debian's essential packages (bash, dash, coreutils, findutils, grep, sed,
# util-linux, ...) and Node.js itself. Only what a script might call is listed.
BASE_PROGRAMS = frozenset(
    {
        "bash", "sh", "cat", "chmod", "chown", "cp", "cut", "date", "dirname", "basename", "env",
        "head", "install", "ln", "ls", "mkdir", "mktemp", "mv", "readlink", "realpath", "rm", "sleep",
        "sort", "tail", "tee", "touch", "tr", "wc", "find", "xargs", "grep", "sed", "node", "npm",
    }
)  # fmt: skip
DEBIAN_PROGRAMS = {
    "ca-certificates": frozenset(),
    "git": frozenset({"git"}),
    "jq": frozenset({"jq"}),
    "openssh-client": frozenset({"ssh", "ssh-add", "ssh-agent", "ssh-keygen", "ssh-keyscan", "scp"}),
    "tini": frozenset({"tini"}),
}
NPM_PROGRAMS = {"@anthropic-ai/claude-code": frozenset({"claude"})}


def commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(AGENT_DOCKERFILE)))


def run_text() -> str:
    return "\n".join(" ".join(command.value) for command in commands() if command.cmd == "RUN")


def debian_packages() -> list[str]:
    """The packages of `apt-get install`, each pinned as `name=version`."""
    return re.findall(r"(?<![\w/-])([a-z0-9][a-z0-9.+-]*)=[0-9]\S*", run_text())


def npm_packages() -> dict[str, str]:
    """`name -> version` of what `npm install --global` installs, ARG defaults resolved."""
    args = {}
    for command in commands():
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            args[name] = default
    text = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], run_text())
    return dict(re.findall(r'"?(@[a-z0-9-]+/[a-z0-9-]+)@([0-9][0-9.]*)"?', text))


def programs() -> frozenset[str]:
    provided = set(BASE_PROGRAMS)
    for package in debian_packages():
        provided |= DEBIAN_PROGRAMS[package]
    for package in npm_packages():
        provided |= NPM_PROGRAMS[package]
    return frozenset(provided)
