"""task-controller-config: required settings, and one readable line when something is wrong."""

from __future__ import annotations

import pytest
import yaml

from bot.core.taskconfig import TaskConfigError, parse_task_config

from .conftest import TASK_CONFIG_YAML


def test_example_config_parses_with_defaults() -> None:
    config = parse_task_config(TASK_CONFIG_YAML)
    assert config.agent.image.reference == "ghcr.io/5dlabs/platform/claude-code:1.0.56"
    assert config.job.active_deadline_seconds == 3600
    assert config.cleanup.succeeded_ttl_seconds == 600
    assert config.defaults.working_directory == "."
    assert config.telemetry.enabled is False


def _without(path: str) -> str:
    data = yaml.safe_load(TASK_CONFIG_YAML)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[last]
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _without("agent.image.tag"), "config.yaml: agent.image.tag: is required", id="no image tag"
        ),
        pytest.param(_without("secrets"), "config.yaml: secrets: is required", id="no secrets"),
        pytest.param(_without("job"), "config.yaml: job: is required", id="no job"),
        pytest.param(
            TASK_CONFIG_YAML.replace("defaultCode: claude-sonnet-4-20250514", "defaultCode: sonnet"),
            "models.defaultCode 'sonnet' is not in models.allowed",
            id="default model not allowed",
        ),
        pytest.param(
            TASK_CONFIG_YAML.replace("activeDeadlineSeconds: 3600", "activeDeadlineSeconds: 0"),
            "job.activeDeadlineSeconds: Input should be greater than or equal to 1",
            id="deadline too short",
        ),
        pytest.param(
            TASK_CONFIG_YAML + "\nunknownSetting: 1\n",
            "unknownSetting: Extra inputs are not permitted",
            id="typo",
        ),
        pytest.param("job: [", "config.yaml is not valid YAML", id="not YAML"),
        pytest.param("- a\n- b\n", "config.yaml must be a mapping of settings", id="a list"),
        pytest.param(
            TASK_CONFIG_YAML + "telemetry:\n  enabled: true\n",
            "telemetry.otlpEndpoint is required when telemetry.enabled is true",
            id="telemetry without endpoint",
        ),
        pytest.param(
            TASK_CONFIG_YAML + "defaults:\n  platformRepositoryUrl: git@github.com:platform-org/tasks.git\n",
            "defaults.platformRepositoryUrl: its owner 'platform-org' must be listed in repositories.allowedOwners",
            id="default platform repository without allowed owners",
        ),
        pytest.param(
            TASK_CONFIG_YAML
            + "defaults:\n  platformRepositoryUrl: https://github.com/mallory/tasks\n"
            + "repositories:\n  allowedOwners: [platform-org]\n",
            "defaults.platformRepositoryUrl: its owner 'mallory' must be listed in repositories.allowedOwners",
            id="default platform repository of an owner not listed",
        ),
        pytest.param(
            TASK_CONFIG_YAML
            + "defaults:\n  platformRepositoryUrl: https://github.com:8443/platform-org/tasks\n"
            + "repositories:\n  allowedOwners: [platform-org]\n",
            "defaults.platformRepositoryUrl 'https://github.com:8443/platform-org/tasks' must be an SSH or "
            "HTTPS GitHub repository URL without a port",
            id="default platform repository with a port",
        ),
        pytest.param(
            TASK_CONFIG_YAML + "repositories:\n  allowedOwners: ['-x']\n",
            "repositories.allowedOwners.0: String should match pattern",
            id="an owner that is no GitHub login",
        ),
        pytest.param(
            TASK_CONFIG_YAML + "repositories:\n  allowedOwners: []\n",
            "repositories.allowedOwners: List should have at least 1 item",
            id="an empty list of owners (leave it out for the repository's own owner)",
        ),
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(TaskConfigError) as raised:
        parse_task_config(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value).strip()


def test_allowed_owners_are_optional_and_a_listed_default_platform_repository_is_accepted() -> None:
    assert parse_task_config(TASK_CONFIG_YAML).repositories.allowed_owners is None
    config = parse_task_config(
        TASK_CONFIG_YAML
        + "defaults:\n  platformRepositoryUrl: git@github.com:Platform-Org/tasks.git\n"
        + "repositories:\n  allowedOwners: [platform-org, demo-org]\n"
    )
    assert config.repositories.allowed_owners == ["platform-org", "demo-org"]
    assert config.defaults.platform_repository_url == "git@github.com:Platform-Org/tasks.git"
