"""Fixtures for running the agent Job for real (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import assets
from bot.core.taskconfig import TaskConfig, parse_task_config
from tests.jobrun.harness import World, claude_code_package, missing_prerequisites

CACHE = Path.home() / ".cache" / "orchestrator-bot"
TRADER_FILES = {
    "README.md": "# trader\n\nThe trading services.\n",
    "services/trader/src/orders.py": "def total(quantity, price):\n    return int(quantity * price * 100) / 100\n",
    "services/trader/tests/test_orders.py": "from src.orders import total\n",
    "docs/index.md": "# Trader docs\n",
}
PLATFORM_FILES = {
    ".taskmaster/docs/task-5/task.md": "Round order totals to cents instead of truncating.\n",
    ".taskmaster/docs/task-5/acceptance-criteria.md": "- total(3, 0.335) == 1.01\n",
    ".taskmaster/docs/task-5/prompt.md": "Fix the rounding in services/trader/src/orders.py.\n",
}


def shipped_config() -> TaskConfig:
    """The task config the project ships (the package's default, copied to k8s/), as deployed."""
    manifest = yaml.safe_load(assets.task_config().read_text())
    return parse_task_config(manifest["data"]["config.yaml"])


@pytest.fixture(scope="session")
def claude_package() -> Path:
    problems = missing_prerequisites()
    if problems:
        pytest.fail(
            "the agent Job cannot be run here: " + "; ".join(problems) + " (.ci/run installs what it needs)",
            pytrace=False,
        )
    return claude_code_package(CACHE)


@pytest.fixture
def world(tmp_path: Path, claude_package: Path) -> Iterator[World]:
    world = World(tmp_path / "world", claude_package)
    for login in ("alice", "mallory"):
        world.user(login)
    world.repository("demo-org/trader", TRADER_FILES)
    world.repository("demo-org/platform", PLATFORM_FILES)
    yield world


def code_run(name: str = "code-5-trader-8d1c0f4a2b", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "orchestrator.platform/v1",
        "kind": "CodeRun",
        "metadata": {"name": name, "namespace": "orchestrator"},
        "spec": {
            "taskId": 5,
            "service": "trader",
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "platformRepositoryUrl": "git@github.com:demo-org/platform.git",
            "branch": "main",
            "workingDirectory": "services/trader",
            "model": "claude-sonnet-4-20250514",
            "githubUser": "alice",
            **spec,
        },
    }


def docs_run(name: str = "docs-3f2a9c1e7b", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "orchestrator.platform/v1",
        "kind": "DocsRun",
        "metadata": {"name": name, "namespace": "orchestrator"},
        "spec": {
            "repositoryUrl": "git@github.com:demo-org/trader.git",
            "workingDirectory": "docs",
            "sourceBranch": "main",
            "model": "claude-opus-4-20250514",
            "githubUser": "alice",
            **spec,
        },
    }


def tool(name: str, **tool_input: Any) -> dict[str, Any]:
    """One scripted agent turn that calls one tool."""
    return {"content": [{"type": "tool_use", "name": name, "input": tool_input}]}


def say(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}
