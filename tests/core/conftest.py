"""Plain data shared by the pure-core tests: an origin and a task config."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.origin import Origin
from bot.core.taskconfig import TaskConfig, parse_task_config

TASK_CONFIG_YAML = """
job:
  activeDeadlineSeconds: 3600
agent:
  image:
    repository: ghcr.io/5dlabs/platform/claude-code
    tag: 1.0.56
secrets:
  apiKeySecretName: anthropic-api-key
  apiKeySecretKey: api-key
models:
  allowed: [claude-opus-4-20250514, claude-sonnet-4-20250514]
  defaultDocs: claude-opus-4-20250514
  defaultCode: claude-sonnet-4-20250514
permissions:
  allow: ["Bash", "Read"]
  deny: []
"""


@pytest.fixture
def task_config() -> TaskConfig:
    return parse_task_config(TASK_CONFIG_YAML)


BASE_ORIGIN = Origin(
    repository="demo-org/trader",
    repository_id=1296269,
    ssh_url="git@github.com:demo-org/trader.git",
    html_url="https://github.com/demo-org/trader",
    default_branch="main",
    issue_number=5,
    is_pull_request=False,
    sender="Alice",
    sender_type="User",
    installation_id=42,
    delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
    source="comment",
    comment_id=1001,
)


def make_origin(**changes: Any) -> Origin:
    return replace(BASE_ORIGIN, **changes)


@pytest.fixture
def origin() -> Origin:
    return make_origin()
