"""The agent image (agent/Dockerfile), checked statically: pinned, lint-clean, and holding what the
Job needs of it — the CLI version the templates are written for, tini as PID 1, user 1000 with a
home. The programs the scripts really run are checked against it in tests/jobrun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.core import jobs
from bot.core.permissions import CLI_VERSION
from bot.core.render import PATHS
from tests.deploy import agent_image
from tests.jobrun.harness import CLAUDE_CODE_VERSION


def test_the_base_image_is_pinned_node_20_on_debian_bookworm() -> None:
    [base] = [command.value[0] for command in agent_image.commands() if command.cmd == "FROM"]
    assert agent_image.BASE_IMAGE.fullmatch(base), base


def test_the_cli_is_the_version_the_permission_rules_and_the_job_tests_are_written_for() -> None:
    assert agent_image.npm_packages() == {"@anthropic-ai/claude-code": CLI_VERSION}
    assert CLAUDE_CODE_VERSION == CLI_VERSION


def test_debian_packages_are_pinned_and_known() -> None:
    packages = agent_image.debian_packages()
    assert sorted(packages) == sorted(agent_image.DEBIAN_PROGRAMS)


def test_the_jobs_init_and_sidecar_programs_are_in_the_image() -> None:
    provided = agent_image.programs()
    assert jobs.INIT[0] == "/usr/bin/tini"  # where Debian's tini package puts it
    assert Path(jobs.INIT[0]).name in provided
    assert jobs.SSH_AGENT_READY[0] in provided
    assert Path(jobs.SSH_AGENT_COMMAND[len(jobs.INIT)]).name in provided  # /bin/sh
    for program in ("ssh-agent", "ssh-add", "rm", "sleep"):
        assert program in jobs.SSH_AGENT_SCRIPT
        assert program in provided
    [entrypoint] = [command for command in agent_image.commands() if command.cmd == "ENTRYPOINT"]
    assert list(entrypoint.value) == jobs.INIT


def test_uid_1000_is_a_user_with_the_jobs_home() -> None:
    """OpenSSH refuses to start for a uid without a passwd entry (every clone would fail)."""
    run = agent_image.run_text()
    assert "usermod --login agent --home /home/agent --move-home node" in run
    [user] = [command.value[0] for command in agent_image.commands() if command.cmd == "USER"]
    assert user == f"{jobs.AGENT_UID}:{jobs.AGENT_UID}"
    [home] = [command.value for command in agent_image.commands() if command.cmd == "ENV"]
    assert dict(zip(home[::2], home[1::2], strict=True))["HOME"] == PATHS.home


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    done = subprocess.run(
        [str(hadolint), "--no-color", str(agent_image.AGENT_DOCKERFILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
