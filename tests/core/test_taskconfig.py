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
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(TaskConfigError) as raised:
        parse_task_config(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value).strip()
