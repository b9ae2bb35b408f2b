"""The shipped templates, read from disk and run for real under bash.

No mocks: the rendered scripts run in a temporary directory with stub `git` / `claude` / `ssh`
executables on PATH that record their argv, and (in the end-to-end tests) with real git against
local bare repositories.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.core.render import (
    CodeContext,
    RenderError,
    TemplateContext,
    build_context,
    render_files,
    template_key,
)
from bot.core.taskconfig import PermissionsConfig, parse_task_config
from bot.templates import default_templates_dir, load_template_sources
from tests.core.conftest import TASK_CONFIG_YAML
from tests.core.test_render import CODE_OPTIONALS, code_run, docs_run

SOURCES = load_template_sources(default_templates_dir())
CONFIG = parse_task_config(TASK_CONFIG_YAML)
HOSTILE = "x$(touch PWNED)`touch PWNED`'\"\\;\n; touch PWNED #"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# github.com's host key fingerprints as GitHub publishes them (docs.github.com, "GitHub's SSH key
# fingerprints"); the keys pinned in the scripts must hash to exactly these.
GITHUB_FINGERPRINTS = {
    "ssh-ed25519": "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
    "ecdsa-sha2-nistp256": "SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
    "ssh-rsa": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
}

# Each stub call is one file: the program, its cwd, then its argv, NUL-separated.
RECORD = """\
n=$(find "$STUB_CALLS" -maxdepth 1 -type f | wc -l)
call="$STUB_CALLS/$(printf '%05d' "$n")"
printf '%s\\0' "${0##*/}" "$PWD" "$@" >"$call"
"""
FAKE_GIT = (
    "#!/bin/bash\n"
    + RECORD
    + """\
args=("$@")
while [ "${#args[@]}" -gt 0 ]; do
  case "${args[0]}" in
    -C) cd "${args[1]}" || exit 1; args=("${args[@]:2}") ;;
    -c) args=("${args[@]:2}") ;;
    *) break ;;
  esac
done
case "${args[0]:-}" in
  clone)
    dest=${args[-1]}
    mkdir -p "$dest/.git"
    if [ -d "$STUB_REPOS/${dest##*/}" ]; then cp -R "$STUB_REPOS/${dest##*/}/." "$dest/"; fi
    if [ -n "${STUB_WORKDIR:-}" ]; then mkdir -p "$dest/$STUB_WORKDIR"; fi ;;
  rev-parse)
    case " ${args[*]} " in
      *" HEAD "*) echo 0123456789abcdef0123456789abcdef01234567 ;;
      *--show-toplevel*) pwd ;;
    esac ;;
  rev-list) echo 1 ;;
  diff | show-ref | ls-files) exit 1 ;;
esac
exit 0
"""
)
FAKE_CLAUDE = (
    "#!/bin/bash\n"
    + RECORD
    + """\
cat >"$call.stdin"
printf 'written by the agent\\n' >>agent-notes.md
if [ -n "${STUB_PR_URL:-}" ]; then printf '%s\\n' "$STUB_PR_URL" >"$ORCHESTRATOR_RESULT_DIR/pull-request-url"; fi
if [ -n "${CLAUDE_CONFIG_DIR:-}" ]; then mkdir -p "$CLAUDE_CONFIG_DIR/projects/session"; fi
exit 0
"""
)
# The scripts must never reach for these: the host keys are pinned, git does its own ssh.
FAKE_REFUSED = "#!/bin/bash\n" + RECORD + "exit 1\n"


@dataclass
class Call:
    program: str
    cwd: str
    argv: list[str]
    stdin: str | None


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]
    result: dict[str, Any] | None

    def argv(self, program: str) -> list[list[str]]:
        return [call.argv for call in self.calls if call.program == program]

    def git(self, subcommand: str) -> list[list[str]]:
        return [argv for argv in self.argv("git") if argv and argv[0] == subcommand]


class Sandbox:
    """A temporary pod: config mount, SSH secret mount, workspace, HOME, termination log, stubs."""

    def __init__(self, root: Path, files: dict[str, str], *, real_git: bool = False) -> None:
        self.root = root
        self.config = root / "config"
        self.ssh = root / "ssh-secret"
        self.workspace = root / "workspace"
        self.home = root / "home"
        self.calls = root / "calls"
        self.repos = root / "repos"
        self.bin = root / "bin"
        self.termination_log = root / "termination-log"
        self.managed_settings = root / "managed-settings.json"
        for directory in (self.config, self.ssh, self.workspace, self.home, self.calls, self.repos, self.bin):
            directory.mkdir(parents=True, exist_ok=True)
        self.install(files)
        (self.ssh / "id_ed25519").write_text("PRIVATE KEY\n")
        (self.ssh / "id_ed25519.pub").write_text("ssh-ed25519 AAAA alice\n")
        stubs = {"claude": FAKE_CLAUDE, "ssh": FAKE_REFUSED, "ssh-keyscan": FAKE_REFUSED}
        if not real_git:
            stubs["git"] = FAKE_GIT
        for name, text in stubs.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)

    def install(self, files: dict[str, str]) -> None:
        for key, text in files.items():
            (self.config / key).write_text(text)
        self.managed_settings.write_text(files["settings.json"])

    def run(self, script: str, **env: str) -> Run:
        cwd = self.root / "cwd"
        cwd.mkdir(exist_ok=True)
        base = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home),
            "CONFIG_DIR": str(self.config),
            "SSH_KEY_DIR": str(self.ssh),
            "WORKSPACE": str(self.workspace),
            "MANAGED_SETTINGS": str(self.managed_settings),
            "TERMINATION_LOG": str(self.termination_log),
            "STUB_CALLS": str(self.calls),
            "STUB_REPOS": str(self.repos),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
        }
        for stale in self.calls.iterdir():
            stale.unlink()
        self.termination_log.unlink(missing_ok=True)
        done = subprocess.run(
            ["bash", str(self.config / script)],
            cwd=cwd,
            env={**base, **env},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        result = json.loads(self.termination_log.read_text()) if self.termination_log.exists() else None
        return Run(done.returncode, done.stdout, done.stderr, self._calls(), result)

    def _calls(self) -> list[Call]:
        calls = []
        for path in sorted(p for p in self.calls.iterdir() if p.suffix != ".stdin"):
            program, cwd, *argv = path.read_bytes().decode().split("\0")[:-1]
            stdin = path.with_suffix(".stdin")
            calls.append(Call(program, cwd, argv, stdin.read_text() if stdin.exists() else None))
        return calls


def rendered(run: dict[str, Any]) -> dict[str, str]:
    context = build_context(run, CONFIG)
    return render_files(context.task_type, SOURCES, context)


def no_pwned_files(*roots: Path) -> bool:
    return not any(path.name == "PWNED" for root in roots for path in root.rglob("*"))


# --- loading --------------------------------------------------------------------------------------


def test_templates_are_discovered_from_the_repository_tree() -> None:
    assert {
        "docs/container.sh.j2",
        "docs/CLAUDE.md.j2",
        "docs/settings.json.j2",
        "docs/prompt.md.j2",
        "code/container.sh.j2",
        "code/mcp.json.j2",
        "code/client-config.json.j2",
        "code/coding-guidelines.md.j2",
        "code/github-guidelines.md.j2",
        "code/hooks/stop-commit.sh.j2",
    } <= set(SOURCES)


def test_templates_load_from_a_mounted_configmap(tmp_path: Path) -> None:
    """The Helm chart mounts them flat (`/` -> `_`), beside the kubelet's ..data entries."""
    data = tmp_path / "..2025_01_01_00_00_00.000000001"
    data.mkdir()
    for path, text in SOURCES.items():
        (data / template_key(path)).write_text(text)
        (tmp_path / template_key(path)).symlink_to(data / template_key(path))
    (tmp_path / "..data").symlink_to(data.name)
    assert load_template_sources(tmp_path) == SOURCES


def test_a_template_present_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "prompt.md.j2").write_text("a")
    (tmp_path / "docs_prompt.md.j2").write_text("b")
    with pytest.raises(RenderError, match="present twice"):
        load_template_sources(tmp_path)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_no_templates_is_an_error(make: str, tmp_path: Path) -> None:
    directory = tmp_path / "templates"
    if make == "empty":
        directory.mkdir()
    with pytest.raises(RenderError, match="templates"):
        load_template_sources(directory)


def test_files_without_the_template_suffix_are_not_templates(tmp_path: Path) -> None:
    (tmp_path / "code" / "hooks").mkdir(parents=True)
    (tmp_path / "code" / "hooks" / ".gitkeep").write_text("")
    (tmp_path / "code" / "prompt.md.j2").write_text("x")
    assert load_template_sources(tmp_path) == {"code/prompt.md.j2": "x"}


# --- static checks on the shell templates ---------------------------------------------------------

SHELL_TEMPLATES = sorted(path for path in SOURCES if path.endswith(".sh.j2"))
QUOTED_ASSIGNMENT = re.compile(r"^[A-Z][A-Z0-9_]*=\{\{ [^{}]+ \| shell_quote \}\}$")


@pytest.mark.parametrize("path", SHELL_TEMPLATES)
def test_values_enter_shell_templates_only_as_quoted_assignments(path: str) -> None:
    """Every `{{ }}` is a whole `NAME={{ value | shell_quote }}` line: never inside double quotes,
    a heredoc, a comment or a command, and always quoted last."""
    for number, line in enumerate(SOURCES[path].splitlines(), 1):
        if "{{" in line or "{%" in line:
            assert QUOTED_ASSIGNMENT.match(line), f"{path} line {number}: {line}"


@pytest.mark.parametrize("path", SHELL_TEMPLATES)
def test_shell_templates_are_strict_bash(path: str) -> None:
    text = SOURCES[path]
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text or "hooks/" in path


@pytest.mark.parametrize("path", ["docs/container.sh.j2", "code/container.sh.j2"])
def test_pinned_github_host_keys_match_the_published_fingerprints(path: str) -> None:
    pinned = re.findall(r"^github\.com (\S+) (\S+)$", SOURCES[path], re.MULTILINE)
    fingerprints = {
        kind: "SHA256:"
        + base64.b64encode(hashlib.sha256(base64.b64decode(key)).digest()).decode().rstrip("=")
        for kind, key in pinned
    }
    assert fingerprints == GITHUB_FINGERPRINTS


RUNS = {
    "docs": docs_run(),
    "code, optionals unset": code_run(),
    "code, optionals set": code_run(**CODE_OPTIONALS),
}


@pytest.mark.parametrize("run", list(RUNS.values()), ids=list(RUNS))
def test_bash_accepts_every_rendered_script(run: dict[str, Any], tmp_path: Path) -> None:
    for key, text in rendered(run).items():
        if key.endswith(".sh"):
            script = tmp_path / key
            script.write_text(text)
            check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
            assert check.returncode == 0, f"{key}: {check.stderr}"


# --- hostile values -------------------------------------------------------------------------------


def hostile_context(task_type: str) -> TemplateContext:
    """Every string the templates see, hostile; built directly, past the schema's patterns."""
    code = CodeContext(
        task_id=5,
        service=HOSTILE,
        platform_repository_url=HOSTILE + "platform",
        local_tools=(HOSTILE,),
        remote_tools=(HOSTILE,),
        tool_config=HOSTILE,
        prompt_modification=HOSTILE,
        prompt_mode="append",
        continue_session=True,
        overwrite_memory=True,
    )
    return TemplateContext(
        task_type="code" if task_type == "code" else "docs",
        run_name=HOSTILE + "run",
        namespace=HOSTILE,
        repository_url=HOSTILE + "repository",
        base_branch=HOSTILE + "base",
        work_branch=HOSTILE + "work",
        working_directory=HOSTILE + "dir",
        model=HOSTILE + "model",
        github_user=HOSTILE + "user",
        git_user_email=HOSTILE + "email",
        commit_message=HOSTILE + "message",
        permissions=PermissionsConfig(allow=[HOSTILE], deny=[HOSTILE]),
        telemetry_env={HOSTILE: HOSTILE},
        code=code if task_type == "code" else None,
    )


def test_hostile_docs_values_are_inert(tmp_path: Path) -> None:
    files = render_files("docs", SOURCES, hostile_context("docs"))
    sandbox = Sandbox(tmp_path, files)
    run = sandbox.run("container.sh", STUB_WORKDIR=HOSTILE + "dir")

    assert run.returncode == 0, run.stderr
    assert ["clone", f"--branch={HOSTILE}base", "--single-branch", "--", HOSTILE + "repository"] == run.git(
        "clone"
    )[0][:-1]
    assert ["config", "--global", "user.name", HOSTILE + "user"] in run.argv("git")
    assert ["config", "--global", "user.email", HOSTILE + "email"] in run.argv("git")
    assert ["switch", "--create", HOSTILE + "work"] in run.argv("git")
    assert ["commit", "--quiet", "-m", HOSTILE + "message"] in run.argv("git")
    assert ["push", "--set-upstream", "origin", f"HEAD:refs/heads/{HOSTILE}work"] in run.argv("git")
    [claude] = [call for call in run.calls if call.program == "claude"]
    assert claude.argv == ["-p", "--output-format", "stream-json", "--verbose", "--model", HOSTILE + "model"]
    assert claude.cwd.endswith("/repository/" + HOSTILE + "dir")
    assert claude.stdin == files["prompt.md"]
    assert run.result == {"branch": HOSTILE + "work", "commit": COMMIT, "pullRequestUrl": None}
    assert no_pwned_files(tmp_path)


def test_hostile_code_values_are_inert(tmp_path: Path) -> None:
    files = render_files("code", SOURCES, hostile_context("code"))
    sandbox = Sandbox(tmp_path, files)
    task = sandbox.repos / "platform" / ".taskmaster" / "docs" / "task-5"
    task.mkdir(parents=True)
    (task / "task.md").write_text("Build the order book.\n")
    run = sandbox.run("container.sh")

    assert run.returncode == 0, run.stderr
    platform, target = run.git("clone")
    assert platform == ["clone", "--depth=1", "--", HOSTILE + "platform", f"{sandbox.workspace}/platform"]
    assert target == ["clone", "--", HOSTILE + "repository", f"{sandbox.workspace}/repository"]
    assert ["switch", "--create", HOSTILE + "work", "--no-track", f"origin/{HOSTILE}base"] in run.argv("git")
    assert ["commit", "--quiet", "-m", HOSTILE + "message"] in run.argv("git")
    assert ["push", "--set-upstream", "origin", f"HEAD:refs/heads/{HOSTILE}work"] in run.argv("git")
    [claude] = [call for call in run.calls if call.program == "claude"]
    assert claude.argv[:6] == [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--model",
        HOSTILE + "model",
    ]
    assert claude.argv[6:] == [
        "--mcp-config",
        f"{sandbox.config}/mcp.json",
        "--add-dir",
        f"{sandbox.workspace}/task",
    ]
    assert claude.cwd == f"{sandbox.workspace}/repository/{HOSTILE}dir"
    assert HOSTILE in (claude.stdin or "")
    memory = sandbox.workspace / "repository" / (HOSTILE + "dir") / "CLAUDE.md"
    assert memory.read_text() == files["CLAUDE.md"]
    exclude = (sandbox.workspace / "repository" / ".git" / "info" / "exclude").read_text()
    assert exclude == f"/{HOSTILE}dir/CLAUDE.md\n"
    assert run.result == {"branch": HOSTILE + "work", "commit": COMMIT, "pullRequestUrl": None}
    assert no_pwned_files(tmp_path)


def test_hostile_values_are_inert_in_the_stop_hook(tmp_path: Path) -> None:
    files = render_files("code", SOURCES, hostile_context("code"))
    sandbox = Sandbox(tmp_path, files)
    run = sandbox.run("hooks-stop-commit.sh")
    assert run.returncode == 0, run.stderr
    [commit] = run.git("commit")
    assert commit[-1] == f"wip: progress saved when the agent stopped (run {HOSTILE}run)"
    assert run.git("push") == [["push", "--quiet", "origin", f"HEAD:refs/heads/{HOSTILE}work"]]
    assert no_pwned_files(tmp_path)


def test_tricky_values_the_schema_accepts_are_inert(tmp_path: Path) -> None:
    """Through the real resource model: free-text promptModification, and the odd characters the
    branch, tool, path and model patterns allow."""
    run = code_run(
        branch="release/v1.2+hotfix_3",
        workingDirectory=".services/order-book_v2.1",
        localTools="@scope/mcp-server:latest,tool.x",
        model="claude-sonnet-4.5-20250929",
        githubUser="a-b-9",
        promptModification=HOSTILE,
        promptMode="replace",
    )
    files = rendered(run)
    sandbox = Sandbox(tmp_path, files)
    task = sandbox.repos / "platform" / ".taskmaster" / "docs" / "task-5"
    task.mkdir(parents=True)
    (task / "task.md").write_text("Build the order book.\n")
    (task / "prompt.md").write_text("The task's own prompt.\n")
    result = sandbox.run("container.sh")

    assert result.returncode == 0, result.stderr
    assert ["switch", "--create", "feature/task-5-trader", "--no-track", "origin/release/v1.2+hotfix_3"] in (
        result.argv("git")
    )
    [claude] = [call for call in result.calls if call.program == "claude"]
    assert claude.argv[claude.argv.index("--model") + 1] == "claude-sonnet-4.5-20250929"
    assert claude.cwd.endswith("/repository/.services/order-book_v2.1")
    assert f"## Instructions for this run\n\n{HOSTILE}\n" in (claude.stdin or "")
    # promptMode replace: the task's own prompt is not offered to the agent.
    assert sorted(p.name for p in (sandbox.workspace / "task").iterdir()) == [
        "coding-guidelines.md",
        "github-guidelines.md",
        "task.md",
    ]
    assert json.loads(files["mcp.json"])["mcpServers"]["@scope/mcp-server:latest"]["command"] == (
        "@scope/mcp-server:latest"
    )
    assert no_pwned_files(tmp_path)


# --- the scripts' own logic, with stubs -----------------------------------------------------------


def test_docs_script_reports_a_pull_request_the_agent_opened(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run(
        "container.sh", STUB_WORKDIR="docs", STUB_PR_URL="https://github.com/demo-org/trader/pull/7"
    )
    assert run.returncode == 0, run.stderr
    assert run.result == {
        "branch": "docs/docs-3f2a9c1e7b",
        "commit": COMMIT,
        "pullRequestUrl": "https://github.com/demo-org/trader/pull/7",
    }


def test_docs_script_ignores_a_pull_request_url_that_is_not_plain(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh", STUB_WORKDIR="docs", STUB_PR_URL='https://x/"}, "evil": {')
    assert run.result is not None
    assert run.result["pullRequestUrl"] is None


def test_ssh_key_is_copied_private_with_pinned_hosts(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh", STUB_WORKDIR="docs")
    assert run.returncode == 0, run.stderr
    key = sandbox.home / ".ssh" / "id_ed25519"
    assert key.read_text() == "PRIVATE KEY\n"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (sandbox.home / ".ssh" / "known_hosts").read_text().count("github.com ") == 3
    assert run.argv("ssh-keyscan") == []
    assert (sandbox.home / ".claude" / "CLAUDE.md").exists()


def test_missing_ssh_key_fails_with_the_step(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    (sandbox.ssh / "id_ed25519").unlink()
    run = sandbox.run("container.sh")
    assert run.returncode == 1
    assert "no SSH private key" in run.stderr
    assert run.result == {"error": "failed while setting up SSH (exit 1)"}


def test_missing_working_directory_fails_clearly(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh")
    assert run.returncode == 1
    assert "the working directory docs does not exist on main" in run.stderr
    assert run.result == {"error": "failed while cloning the repository (exit 1)"}


def test_missing_managed_settings_fails_clearly(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    sandbox.managed_settings.unlink()
    run = sandbox.run("container.sh", STUB_WORKDIR="docs")
    assert run.returncode == 1
    assert "no managed settings" in run.stderr
    assert run.argv("claude") == []


def test_missing_task_directory_fails_clearly(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(code_run()))
    run = sandbox.run("container.sh")
    assert run.returncode == 1
    assert "task 5 is not defined" in run.stderr
    assert ".taskmaster/docs/task-5/" in run.stderr
    assert run.result == {"error": "failed while fetching the task definition (exit 1)"}


# --- end to end with real git ---------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t"}
    env |= {"GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def bare_repository(root: Path, name: str, files: dict[str, str]) -> Path:
    """A bare repository (the "remote") whose main branch holds `files`."""
    work = root / f"{name}-seed"
    work.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "seed", cwd=work)
    bare = root / f"{name}.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=root)
    return bare


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@needs_git
def test_docs_script_pushes_its_branch_with_real_git(tmp_path: Path) -> None:
    remote = bare_repository(tmp_path / "remotes", "trader", {"docs/README.md": "# Trader\n"})
    context = build_context(docs_run(), CONFIG).model_copy(update={"repository_url": str(remote)})
    sandbox = Sandbox(tmp_path / "pod", render_files("docs", SOURCES, context), real_git=True)
    run = sandbox.run("container.sh")

    assert run.returncode == 0, run.stderr
    pushed = git("rev-parse", "docs/docs-3f2a9c1e7b", cwd=remote).strip()
    assert run.result == {"branch": "docs/docs-3f2a9c1e7b", "commit": pushed, "pullRequestUrl": None}
    assert git("show", f"{pushed}:docs/agent-notes.md", cwd=remote) == "written by the agent\n"
    assert git("log", "-1", "--format=%an <%ae>%n%s", pushed, cwd=remote) == (
        "Alice <Alice@users.noreply.github.com>\ndocs: documentation written by run docs-3f2a9c1e7b\n"
    )


@needs_git
def test_code_script_continues_in_the_persistent_workspace_with_real_git(tmp_path: Path) -> None:
    remotes = tmp_path / "remotes"
    target = bare_repository(remotes, "trader", {"README.md": "# Trader\n"})
    platform = bare_repository(
        remotes,
        "platform",
        {
            ".taskmaster/docs/task-5/task.md": "Build the order book.\n",
            ".taskmaster/docs/task-5/prompt.md": "Use a heap.\n",
        },
    )
    context = build_context(code_run(continueSession=True), CONFIG).model_copy(
        update={"repository_url": str(target)}
    )
    assert context.code is not None
    code = context.code.model_copy(update={"platform_repository_url": str(platform)})
    files = render_files("code", SOURCES, context.model_copy(update={"code": code}))
    sandbox = Sandbox(tmp_path / "pod", files, real_git=True)

    first = sandbox.run("container.sh")
    assert first.returncode == 0, first.stderr
    assert "--continue" not in first.argv("claude")[0]
    assert "acceptance-criteria.md; continuing without it" in first.stdout
    task_dir = sandbox.workspace / "task"
    assert sorted(p.name for p in task_dir.iterdir()) == [
        "coding-guidelines.md",
        "github-guidelines.md",
        "prompt.md",
        "task.md",
    ]
    memory = sandbox.workspace / "repository" / "services" / "trader" / "CLAUDE.md"
    memory.write_text("# What the first run learned\n")

    second = sandbox.run("container.sh")
    assert second.returncode == 0, second.stderr
    assert second.argv("claude")[0][-1] == "--continue"
    assert "keeping the existing CLAUDE.md" in second.stdout
    assert memory.read_text() == "# What the first run learned\n"

    branch = "feature/task-5-trader"
    pushed = git("rev-parse", branch, cwd=target).strip()
    assert second.result == {"branch": branch, "commit": pushed, "pullRequestUrl": None}
    assert git("log", "--format=%s", branch, cwd=target).splitlines() == [
        "feat(task-5): trader work from run code-5-trader-8d1c0f4a2b",
        "feat(task-5): trader work from run code-5-trader-8d1c0f4a2b",
        "seed",
    ]
    notes = git("show", f"{branch}:services/trader/agent-notes.md", cwd=target)
    assert notes == "written by the agent\nwritten by the agent\n"
    tracked = git("ls-tree", "-r", "--name-only", branch, cwd=target).split()
    assert "services/trader/CLAUDE.md" not in tracked
