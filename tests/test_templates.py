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
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.core.render import (
    CodeContext,
    DocsContext,
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
head() { if [ -e "$STUB_CALLS/committed" ]; then echo fedcba9876543210fedcba9876543210fedcba98; else echo 0123456789abcdef0123456789abcdef01234567; fi; }
case "${args[0]:-}" in
  clone)
    dest=${args[-1]}
    mkdir -p "$dest/.git"
    if [ -d "$STUB_REPOS/${dest##*/}" ]; then cp -R "$STUB_REPOS/${dest##*/}/." "$dest/"; fi
    if [ -n "${STUB_WORKDIR:-}" ]; then mkdir -p "$dest/$STUB_WORKDIR"; fi ;;
  rev-parse)
    case " ${args[*]} " in
      *--show-toplevel*) pwd ;;
      # No work branch was pushed before: base branches exist, feature/task-... and ...work do not.
      *" --verify "*"refs/remotes/origin/feature/task-"* | *" --verify "*"work ") exit 1 ;;
      *" HEAD "*) head ;;
      *) echo 0123456789abcdef0123456789abcdef01234567 ;;
    esac ;;
  commit) touch "$STUB_CALLS/committed" ;;
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
printf '%s\\n' '{"type":"system","subtype":"init","session_id":"5f2e0c7a-stub"}'
printf '%s\\n' '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}'
exit 0
"""
)
FAKE_SSH_ADD = "#!/bin/bash\n" + RECORD + "exit 0\n"
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
    """A temporary pod: config mount, ssh-agent socket, workspace, HOME, termination log, stubs."""

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root
        self.config = root / "config"
        self.workspace = root / "workspace"
        self.home = root / "home"
        self.calls = root / "calls"
        self.repos = root / "repos"
        self.bin = root / "bin"
        self.termination_log = root / "termination-log"
        self.managed_settings = root / "managed-settings.json"
        for directory in (self.config, self.workspace, self.home, self.calls, self.repos, self.bin):
            directory.mkdir(parents=True, exist_ok=True)
        self.install(files)
        # The ssh-agent sidecar's socket: the scripts only check that it is one.
        self.socket_path = root / "agent.sock"
        self.agent_socket = socket.socket(socket.AF_UNIX)
        self.agent_socket.bind(str(self.socket_path))
        stubs = {"git": FAKE_GIT, "claude": FAKE_CLAUDE, "ssh-add": FAKE_SSH_ADD}
        stubs |= {"ssh": FAKE_REFUSED, "ssh-keyscan": FAKE_REFUSED}
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
            "SSH_AUTH_SOCK": str(self.socket_path),
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
        for path in sorted(p for p in self.calls.iterdir() if p.suffix != ".stdin" and p.name != "committed"):
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
SHARED_INCLUDE = '{% include "shared/agent-steps.sh.j2" %}'
JINJA_COMMENT = re.compile(r"^\{#-? .*$|^ {4}.* -?#\}$")


@pytest.mark.parametrize("path", SHELL_TEMPLATES)
def test_values_enter_shell_templates_only_as_quoted_assignments(path: str) -> None:
    """Every `{{ }}` is a whole `NAME={{ value | shell_quote }}` line: never inside double quotes,
    a heredoc, a comment or a command, and always quoted last. The only statement is the include
    of the shared steps, which follow the same rule."""
    for number, line in enumerate(SOURCES[path].splitlines(), 1):
        if "{{" in line or "{%" in line or "{#" in line or "#}" in line:
            assert QUOTED_ASSIGNMENT.match(line) or line == SHARED_INCLUDE or JINJA_COMMENT.match(line), (
                f"{path} line {number}: {line}"
            )


@pytest.mark.parametrize("path", [p for p in SHELL_TEMPLATES if not p.startswith("shared/")])
def test_shell_templates_are_strict_bash(path: str) -> None:
    text = SOURCES[path]
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text or "hooks/" in path


@pytest.mark.parametrize("kind", ["docs", "code"])
def test_both_scripts_include_the_shared_steps(kind: str) -> None:
    assert SOURCES[f"{kind}/container.sh.j2"].count(SHARED_INCLUDE) == 1


def test_pinned_github_host_keys_match_the_published_fingerprints() -> None:
    pinned = re.findall(r"^github\.com (\S+) (\S+)$", SOURCES["shared/agent-steps.sh.j2"], re.MULTILINE)
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
    """Every string the templates see, hostile; built directly, past the schema's patterns and the
    permission rules' validation."""
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
    return TemplateContext.model_construct(
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
        permissions=PermissionsConfig.model_construct(allow=[HOSTILE], deny=[HOSTILE]),
        telemetry_env={HOSTILE: HOSTILE},
        code=code if task_type == "code" else None,
        docs=DocsContext(prompt_modification=HOSTILE, continues=True) if task_type == "docs" else None,
    )


CHANGED_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def test_hostile_docs_values_are_inert(tmp_path: Path) -> None:
    files = render_files("docs", SOURCES, hostile_context("docs"))
    sandbox = Sandbox(tmp_path, files)
    run = sandbox.run("container.sh", STUB_WORKDIR=HOSTILE + "dir")

    assert run.returncode == 0, run.stderr
    assert [
        "clone",
        "--quiet",
        f"--branch={HOSTILE}base",
        "--single-branch",
        "--",
        HOSTILE + "repository",
    ] == (run.git("clone")[0][:-1])
    assert ["config", "--global", "user.name", HOSTILE + "user"] in run.argv("git")
    assert ["config", "--global", "user.email", HOSTILE + "email"] in run.argv("git")
    assert ["switch", "--quiet", "--create", HOSTILE + "work"] in run.argv("git")
    assert ["commit", "--quiet", "-m", HOSTILE + "message"] in run.argv("git")
    assert ["push", "--", HOSTILE + "repository", f"HEAD:refs/heads/{HOSTILE}work"] in run.argv("git")
    [claude] = [call for call in run.calls if call.program == "claude"]
    assert claude.argv == ["-p", "--output-format", "stream-json", "--verbose", "--model", HOSTILE + "model"]
    assert claude.cwd.endswith("/repository/" + HOSTILE + "dir")
    assert claude.stdin == files["prompt.md"]
    assert HOSTILE in files["prompt.md"]  # the run's instructions reach the agent as text, never as code
    assert run.result == {
        "branch": HOSTILE + "work",
        "commit": CHANGED_COMMIT,
        "changed": True,
        "sessionId": "5f2e0c7a-stub",
    }
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
    assert target == ["clone", "--quiet", "--", HOSTILE + "repository", f"{sandbox.workspace}/repository"]
    checkout = ["checkout", "--quiet", "--force", "--no-track", "-B", HOSTILE + "work", COMMIT]
    assert checkout in run.argv("git")
    assert ["commit", "--quiet", "-m", HOSTILE + "message"] in run.argv("git")
    assert ["push", "--", HOSTILE + "repository", f"HEAD:refs/heads/{HOSTILE}work"] in run.argv("git")
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
    memory = sandbox.workspace / "memory" / (HOSTILE + "dir") / "CLAUDE.md"
    assert memory.read_text() == files["CLAUDE.md"]
    exclude = (sandbox.workspace / "repository" / ".git" / "info" / "exclude").read_text()
    assert exclude == f"/{HOSTILE}dir/CLAUDE.md\n"
    assert run.result == {
        "branch": HOSTILE + "work",
        "commit": CHANGED_COMMIT,
        "changed": True,
        "sessionId": "5f2e0c7a-stub",
    }
    assert no_pwned_files(tmp_path)


def test_hostile_values_are_inert_in_the_stop_hook(tmp_path: Path) -> None:
    files = render_files("code", SOURCES, hostile_context("code"))
    sandbox = Sandbox(tmp_path, files)
    run = sandbox.run("hooks-stop-commit.sh")
    assert run.returncode == 0, run.stderr
    [commit] = run.git("commit")
    assert commit[-1] == HOSTILE + "message"
    assert run.git("rev-list") == [["rev-list", "--count", f"refs/remotes/origin/{HOSTILE}base..HEAD"]]
    assert run.git("push") == [
        ["push", "--quiet", "--", HOSTILE + "repository", f"HEAD:refs/heads/{HOSTILE}work"]
    ]
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
    assert ["rev-parse", "--verify", "--quiet", "refs/remotes/origin/release/v1.2+hotfix_3"] in result.argv(
        "git"
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


# --- the scripts' own logic, with stubs (tests/jobrun runs them for real) -------------------------


def test_docs_script_reports_a_pull_request_the_agent_opened(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run(
        "container.sh", STUB_WORKDIR="docs", STUB_PR_URL="https://github.com/demo-org/trader/pull/7"
    )
    assert run.returncode == 0, run.stderr
    assert run.result is not None
    assert run.result["pullRequestUrl"] == "https://github.com/demo-org/trader/pull/7"


def test_docs_script_ignores_a_pull_request_url_that_is_not_plain(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh", STUB_WORKDIR="docs", STUB_PR_URL='https://x/"}, "evil": {')
    assert run.result is not None
    assert "pullRequestUrl" not in run.result
    assert "ignoring a pull request URL that is not a plain https URL" in run.stdout


def test_no_key_is_copied_and_the_hosts_are_pinned(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh", STUB_WORKDIR="docs")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (sandbox.home / ".ssh").iterdir()) == ["known_hosts"]
    assert (sandbox.home / ".ssh" / "known_hosts").read_text().count("github.com ") == 3
    assert run.argv("ssh-add") == [["-l"]]
    assert run.argv("ssh-keyscan") == []
    assert (sandbox.home / ".claude" / "CLAUDE.md").exists()


def test_without_the_ssh_agent_socket_the_run_fails_with_the_step(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh", SSH_AUTH_SOCK=str(tmp_path / "missing.sock"))
    assert run.returncode == 1
    assert "the ssh-agent sidecar did not start" in run.stderr
    assert run.result == {"error": "failed while setting up SSH (exit 1)"}


def test_missing_working_directory_fails_clearly(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    run = sandbox.run("container.sh")
    assert run.returncode == 1
    assert "the working directory docs does not exist on main" in run.stderr
    assert run.result == {"error": "failed while cloning the repository (exit 1)"}


@pytest.mark.parametrize("directory", [".git", ".git/hooks", "a/.git"])
def test_a_working_directory_inside_git_is_refused(directory: str, tmp_path: Path) -> None:
    context = build_context(docs_run(), CONFIG).model_copy(update={"working_directory": directory})
    sandbox = Sandbox(tmp_path, render_files("docs", SOURCES, context))
    run = sandbox.run("container.sh", STUB_WORKDIR=directory)
    assert run.returncode == 1
    assert f"the working directory {directory} is inside .git" in run.stderr
    assert run.argv("claude") == []


def test_a_working_directory_that_leads_outside_the_clone_is_refused(tmp_path: Path) -> None:
    """A symlink committed in the repository must not take the agent (or mkdir) out of the clone."""
    sandbox = Sandbox(tmp_path, rendered(docs_run()))
    clone = sandbox.repos / "repository"
    clone.mkdir()
    (clone / "docs").symlink_to(sandbox.home)
    run = sandbox.run("container.sh")
    assert run.returncode == 1
    assert "the working directory docs leads outside the repository" in run.stderr
    assert run.argv("claude") == []


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
