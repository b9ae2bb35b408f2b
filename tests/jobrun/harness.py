"""The agent Job, run for real: the rendered Pod of a run, executed by `pod.py` with the real
`claude` CLI, real bash, git, ssh, ssh-agent, jq and tini, against a local Messages API and local
bare repositories served over SSH as `github.com`.

What runs is what the controller would create: the run is rendered with the shipped templates and
the given task config into its ConfigMap files and its Job manifest, and the Pod spec of that Job
(command, env, mounts, sidecar, probe, user, grace period) is what `pod.py` carries out. The only
additions are the harness's: `ANTHROPIC_BASE_URL` (the local Messages API) and, where a test says so,
`CLAUDE_CODE_MAX_RETRIES`. Results are read the way the bot reads them: exit code, termination
message, stdout, and the branches on the "GitHub" side.

Needs root (namespaces, mounts, chroot), and on PATH: unshare, setpriv, ip, sshd, ssh, ssh-agent,
git, git-shell, jq, tini, node and npm. `.ci/run` installs the Debian packages; the pinned CLI is
fetched from npm once (`CLAUDE_CODE_PACKAGE` points at an unpacked copy to skip that).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.jobs import job_manifest
from bot.core.render import build_context, parse_run, render_files
from bot.core.taskconfig import TaskConfig
from bot.templates import default_templates_dir, load_template_sources

CLAUDE_CODE_VERSION = "1.0.56"
CLAUDE_CODE_SHA1 = "61f5e720b6a2a356cd7ee13344e2aadd238c6319"
"""The npm tarball's shasum as the registry publishes it."""
HERE = Path(__file__).resolve().parent
PROGRAMS = (
    "unshare",
    "setpriv",
    "ip",
    "sshd",
    "ssh",
    "ssh-agent",
    "ssh-add",
    "ssh-keygen",
    "git",
    "jq",
    "tini",
    "node",
    "npm",
)
AGENT_GID = 1000
GIT_UID = 2000
API_KEY = "sk-ant-api03-jobrun-FAKE-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-0000000000AA"
SOURCES = load_template_sources(default_templates_dir())


def missing_prerequisites() -> list[str]:
    problems = [f"`{program}` is not on PATH" for program in PROGRAMS if shutil.which(program) is None]
    if os.geteuid() != 0:
        problems.insert(0, "the job-run tests need root (mount and network namespaces, chroot)")
    return problems


def claude_code_package(cache: Path) -> Path:
    """The unpacked npm package of the pinned CLI, fetched once and checked against its shasum."""
    given = os.environ.get("CLAUDE_CODE_PACKAGE")
    if given:
        return Path(given)
    package = cache / f"claude-code-{CLAUDE_CODE_VERSION}" / "package"
    if (package / "cli.js").exists():
        return package
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "pack",
            "--silent",
            f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}",
            "--pack-destination",
            str(cache),
        ],
        check=True,
        capture_output=True,
    )
    tarball = cache / f"anthropic-ai-claude-code-{CLAUDE_CODE_VERSION}.tgz"
    digest = hashlib.sha1(tarball.read_bytes()).hexdigest()  # noqa: S324 - npm's published shasum is SHA-1
    if digest != CLAUDE_CODE_SHA1:
        raise RuntimeError(f"{tarball} has shasum {digest}, not the published {CLAUDE_CODE_SHA1}")
    with tarfile.open(tarball) as archive:
        archive.extractall(package.parent, filter="data")
    tarball.unlink()
    return package


# The bare repositories belong to the `git` user; git 2.39 reads safe.directory only from global
# config, also in its own subprocesses (upload-pack of a local clone).
_TRUSTING_GITCONFIG = Path(tempfile.mkdtemp(prefix="jobrun-git-")) / "gitconfig"
_TRUSTING_GITCONFIG.write_text("[safe]\n\tdirectory = *\n")


def _git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        env={**os.environ, "GIT_CONFIG_GLOBAL": str(_TRUSTING_GITCONFIG)},
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def programs_in(first_words: list[str], files: Mapping[str, str]) -> set[str]:
    """The programs among the first words of the commands the scripts ran: not bash's builtins and
    keywords, not the functions the rendered scripts define."""
    shell = subprocess.run(
        ["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True, check=True
    )
    assignment = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
    first_words = [word for word in first_words if not assignment.match(word)]
    functions = {
        match
        for text in files.values()
        for match in re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\(\) \{$", text, re.M)
    }
    return {word for word in first_words if word not in set(shell.stdout.split()) | functions}


@dataclass
class JobRun:
    """What a finished agent Pod left: what the kubelet and the bot would read."""

    programs: set[str]
    """The programs the Job's scripts started (not the agent's own tool calls)."""
    exit_code: int | None
    termination_message: str
    stdout: str
    stderr: str
    outcome: dict[str, Any]
    requests: list[dict[str, Any]]
    state: Path

    @property
    def result(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.termination_message)
        return parsed

    @property
    def transcript(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def tool_results(self) -> list[tuple[str, bool, str]]:
        """(tool name, is_error, content) of every tool the agent called, in order."""
        names: dict[str, str] = {}
        results = []
        for line in self.transcript:
            for block in (line.get("message") or {}).get("content") or []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use":
                    names[block["id"]] = block["name"]
                elif block.get("type") == "tool_result":
                    content = block.get("content")
                    text = content if isinstance(content, str) else json.dumps(content)
                    results.append(
                        (names.get(block.get("tool_use_id", ""), "?"), bool(block.get("is_error")), text)
                    )
        return results

    def refusals(self) -> list[tuple[str, str]]:
        return [
            (name, text)
            for name, error, text in self.tool_results()
            if error and ("requested permissions" in text or "has been denied" in text)
        ]

    def describe(self) -> str:
        """For assertion messages: everything a person needs to see why a run went wrong."""
        return (
            f"exit {self.exit_code}, outcome {self.outcome}\ntermination: {self.termination_message}\n"
            f"--- stderr\n{self.stderr[-3000:]}\n--- stdout (script lines)\n"
            + "\n".join(line for line in self.stdout.splitlines() if not line.startswith("{"))[-3000:]
            + "\n--- tool results\n"
            + "\n".join(f"{n} {'ERR' if e else 'ok'}: {t[:160]!r}" for n, e, t in self.tool_results())
        )


@dataclass
class World:
    """GitHub's side (bare repositories, users' keys) and the cluster's persistent volumes, shared by
    the runs of one test."""

    root: Path
    claude_package: Path
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in ("git", "pvcs", "keys", "runs"):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        host = self.root / "keys" / "host"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host)], check=True)
        self.host_key = (
            host.read_text(),
            host.with_suffix(".pub").read_text().split()[0]
            + " "
            + host.with_suffix(".pub").read_text().split()[1],
        )

    # --- GitHub ----------------------------------------------------------------------------------

    def user(self, login: str) -> tuple[str, str]:
        """The user's SSH key pair (private, public), registered with the stand-in GitHub."""
        if login not in self.keys:
            path = self.root / "keys" / login
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", login, "-f", str(path)], check=True
            )
            self.keys[login] = (path.read_text(), path.with_suffix(".pub").read_text())
        return self.keys[login]

    def repository(self, full_name: str, files: Mapping[str, str], branch: str = "main") -> Path:
        """A bare repository `owner/name.git` whose `branch` holds `files` in one commit."""
        bare = self.root / "git" / f"{full_name}.git"
        work = self.root / "seed" / full_name
        work.mkdir(parents=True)
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        _git("init", "-q", "-b", branch, cwd=work)
        _git("add", "-A", cwd=work)
        _git("-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-qm", "seed", cwd=work)
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "-q", "--bare", str(work), str(bare))
        subprocess.run(["chown", "-R", f"{GIT_UID}:{GIT_UID}", str(self.root / "git")], check=True)
        return bare

    def git(self, full_name: str, *args: str) -> str:
        return _git("--git-dir", str(self.root / "git" / f"{full_name}.git"), *args)

    def branches(self, full_name: str) -> list[str]:
        return self.git(full_name, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()

    def commit_messages(self, full_name: str, branch: str) -> list[str]:
        return self.git(full_name, "log", "--format=%s", branch).splitlines()

    def show(self, full_name: str, branch: str, path: str) -> str:
        return self.git(full_name, "show", f"{branch}:{path}")

    def pvc(self, claim: str) -> Path:
        return self.root / "pvcs" / claim

    # --- runs ------------------------------------------------------------------------------------

    def run_job(
        self,
        run: dict[str, Any],
        config: TaskConfig,
        turns: list[dict[str, Any]],
        *,
        extra_env: Mapping[str, str] | None = None,
        stop_when_hanging: bool = False,
        timeout: float = 120,
        permissions: Mapping[str, list[str]] | None = None,
    ) -> JobRun:
        """`permissions`, if given, replaces the rendered settings' rules: for showing what rules the
        config's validation refuses would do, past that validation."""
        run = {**run, "metadata": {**run["metadata"], "uid": "00000000-0000-4000-8000-000000000001"}}
        parsed = parse_run(run)
        state = self.root / "runs" / parsed.name
        if state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True)
        files = render_files(parsed.kind, SOURCES, build_context(run, config))
        if permissions is not None:
            settings = json.loads(files["settings.json"])
            settings["permissions"] = {**settings["permissions"], **permissions}
            files["settings.json"] = json.dumps(settings, indent=2) + "\n"
        job = job_manifest(run, config)
        pod = job["spec"]["template"]["spec"]
        (state / "job.json").write_text(json.dumps(job, indent=1))
        volumes = {
            volume["name"]: str(self._volume(volume, state, files, parsed.spec.github_user))
            for volume in pod["volumes"]
        }
        (state / "turns.json").write_text(json.dumps(turns))
        termination_log = state / "termination-log"
        termination_log.touch(mode=0o666)
        termination_log.chmod(0o666)
        description = {
            "state": str(state),
            "pod": pod,
            "volumes": volumes,
            "secrets": {config.secrets.api_key_secret_name: {config.secrets.api_key_secret_key: API_KEY}},
            "extra_env": {
                "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
                "BASH_ENV": "/usr/local/lib/jobrun/trace.sh",
                **(extra_env or {}),
            },
            "claude_package": str(self.claude_package),
            "mcp_stubs": [name for name in run["spec"].get("localTools", "").split(",") if name],
            "mcp_stub_source": str(HERE / "mcp_stub.js"),
            "github": {
                "host_key": self.host_key[0],
                "host_public_key": self.host_key[1],
                "authorized_keys": [public for _, public in self.keys.values()],
                "repositories": str(self.root / "git"),
            },
            "python": sys.executable,
            "messages_api": str(HERE / "messages_api.py"),
            "turns": str(state / "turns.json"),
            "termination_log": str(termination_log),
            "stop_when_file": str(state / "hanging") if stop_when_hanging else None,
            "timeout": timeout,
            "stdout": str(state / "stdout"),
            "stderr": str(state / "stderr"),
            "outcome": str(state / "outcome.json"),
        }
        (state / "pod.json").write_text(json.dumps(description, indent=1))
        subprocess.run(
            [
                "unshare",
                "--mount",
                "--net",
                "--fork",
                "--",
                sys.executable,
                str(HERE / "pod.py"),
                str(state / "pod.json"),
            ],
            check=True,
            timeout=timeout + 60,
        )
        outcome = json.loads((state / "outcome.json").read_text())
        requests_log = state / "requests.jsonl"
        requests = (
            [json.loads(line) for line in requests_log.read_text().splitlines()]
            if requests_log.exists()
            else []
        )
        traced = state / "programs"
        return JobRun(
            programs=programs_in(traced.read_text().split() if traced.exists() else [], files),
            exit_code=outcome.get("exit_code"),
            termination_message=termination_log.read_text(),
            stdout=(state / "stdout").read_text(errors="replace"),
            stderr=(state / "stderr").read_text(errors="replace"),
            outcome=outcome,
            requests=requests,
            state=state,
        )

    def _volume(self, volume: dict[str, Any], state: Path, files: Mapping[str, str], user: str) -> Path:
        """A volume's directory, laid out as the kubelet does (ConfigMap and Secret files read-only to
        the pod with the fsGroup's group; claims persistent, group-writable by the fsGroup)."""
        name = volume["name"]
        if "configMap" in volume:
            path = state / "volumes" / name
            path.mkdir(parents=True)
            for key, text in files.items():
                (path / key).write_text(text)
                (path / key).chmod(0o644)
            return path
        if "secret" in volume:
            path = state / "volumes" / name
            path.mkdir(parents=True)
            private, public = self.user(user)
            values = {"ssh-privatekey": private, "ssh-publickey": public}
            for item in volume["secret"]["items"]:
                target = path / item["path"]
                target.write_text(values[item["key"]])
                os.chown(target, 0, AGENT_GID)
                # fsGroup: the kubelet gives the group read access on top of the item's mode.
                target.chmod(item["mode"] | 0o040)
            return path
        if "emptyDir" in volume:
            path = state / "volumes" / name
            path.mkdir(parents=True)
            path.chmod(0o777)
            return path
        claim = self.pvc(volume["persistentVolumeClaim"]["claimName"])
        if not claim.exists():
            claim.mkdir(parents=True)
            os.chown(claim, 0, AGENT_GID)
            claim.chmod(0o2775)
        return claim
