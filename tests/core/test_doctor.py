"""The pure half of `doctor`: comparing CRDs, splitting the job settings' problems, rendering the sample
runs and writing the checklist."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.core.doctor import (
    ROLE_ACCESS,
    Access,
    Check,
    crd_differences,
    render_sample_runs,
    report,
    sample_runs,
    task_config_problems,
)
from bot.core.render import RenderError
from bot.core.taskconfig import TaskConfig
from bot.templates import default_templates_dir, load_template_sources

from .conftest import TASK_CONFIG_YAML

EXPECTED = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "spec": {
        "names": {"kind": "DocsRun", "shortNames": ["dr"]},
        "versions": [{"name": "v1", "served": True}],
    },
}


@pytest.mark.parametrize(
    ("installed", "differences"),
    [
        pytest.param(EXPECTED, [], id="the same"),
        pytest.param(
            {
                "spec": {
                    "names": {"kind": "DocsRun", "shortNames": ["dr"], "plural": "docsruns"},
                    "versions": [{"name": "v1", "served": True, "storage": True}],
                    "conversion": {"strategy": "None"},
                }
            },
            [],
            id="defaults the apiserver adds",
        ),
        pytest.param(
            {"spec": {"names": {"kind": "DocsRun", "shortNames": ["d"]}}},
            ["spec.names.shortNames[0]", "spec.versions"],
            id="changed and missing",
        ),
        pytest.param(
            {
                "spec": {
                    "names": {"kind": "DocsRun", "shortNames": ["dr", "d"]},
                    "versions": [{"name": "v1", "served": True}],
                }
            },
            ["spec.names.shortNames"],
            id="a list of another length",
        ),
        pytest.param(
            {"spec": {"names": "DocsRun", "versions": [{"name": "v1", "served": True}]}},
            ["spec.names"],
            id="not a mapping",
        ),
        pytest.param({}, ["spec"], id="no spec"),
    ],
)
def test_crd_differences(installed: dict[str, Any], differences: list[str]) -> None:
    assert crd_differences(EXPECTED, installed) == differences


def config_with(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TASK_CONFIG_YAML)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "general", "models"),
    [
        pytest.param(config_with(), [], [], id="valid"),
        pytest.param("just text", ["config.yaml must be a mapping of settings"], [], id="not a mapping"),
        pytest.param(config_with(job=None), ["job: is required"], [], id="no job settings"),
        pytest.param(
            config_with(models__allowed=["Claude Opus"]),
            [],
            ["models.allowed: 'Claude Opus' is not a full model name"],
            id="a short model name",
        ),
        pytest.param(
            config_with(models__defaultCode="claude-haiku-4-20250514"),
            [],
            ["models.defaultCode 'claude-haiku-4-20250514' is not in models.allowed"],
            id="a default that is not allowed",
        ),
        pytest.param(
            config_with(models=None, secrets__apiKeySecretKey="a key"),
            ["secrets.apiKeySecretKey: String should match pattern '^[-._a-zA-Z0-9]+$'"],
            ["models: is required"],
            id="problems of both kinds",
        ),
    ],
)
def test_task_config_problems_are_split_into_models_and_the_rest(
    data: Any, general: list[str], models: list[str]
) -> None:
    found_general, found_models, config = task_config_problems(data)
    assert (found_general, found_models) == (general, models)
    assert (config is not None) == (not general and not models)


def test_the_sample_runs_render_with_the_shipped_templates(task_config: TaskConfig) -> None:
    sources = load_template_sources(default_templates_dir())
    assert render_sample_runs(task_config, sources, "orchestrator") == [
        "DocsRun (4 files, 2 objects)",
        "CodeRun (9 files, 3 objects)",
    ]
    assert [run["spec"]["model"] for run in sample_runs(task_config, "ns")] == [
        task_config.models.default_docs,
        task_config.models.default_code,
    ]


def test_a_template_that_does_not_render_raises(task_config: TaskConfig) -> None:
    sources = load_template_sources(default_templates_dir())
    sources["docs/prompt.md.j2"] = "{{ no_such_variable }}"
    with pytest.raises(RenderError):
        render_sample_runs(task_config, sources, "orchestrator")


def test_the_report_lists_each_check_with_its_fix_and_fails_on_any_failure() -> None:
    checks = [
        Check("ok", "namespace exists"),
        Check("fail", "no secret", "create it"),
        Check("skip", "later"),
    ]
    assert report(checks, "doctor:") == (
        "doctor:\n  ok    namespace exists\n  FAIL  no secret\n        fix: create it\n  --    later\n1 problem found.\n",
        1,
    )
    assert report([Check("fail", "a", "x"), Check("fail", "b", "y")], "h")[0].endswith("2 problems found.\n")
    assert report([Check("ok", "fine")], "h") == ("h\n  ok    fine\nAll 1 checks passed.\n", 0)


@pytest.mark.parametrize(
    ("access", "text"),
    [
        (
            Access("get", "", "configmaps", "task-controller-config"),
            "get configmaps task-controller-config in ns",
        ),
        (
            Access("patch", "orchestrator.platform", "coderuns/status"),
            "patch coderuns.orchestrator.platform/status in ns",
        ),
    ],
)
def test_an_access_reads_as_kubectl_names_it(access: Access, text: str) -> None:
    assert access.describe("ns") == text


def test_each_role_needs_each_access_once() -> None:
    for needed in ROLE_ACCESS.values():
        assert len(set(needed)) == len(needed)
