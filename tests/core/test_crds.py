"""The CRDs are generated from the models: same fields, camelCase, required, types and defaults."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from bot.core.crds import custom_resource_definition
from bot.core.resources import PLURALS, SPEC_MODELS, STATUS_MODELS, RunKind

ROOT = Path(__file__).resolve().parents[2]
KINDS: list[RunKind] = ["DocsRun", "CodeRun"]


def crd_from_file(kind: RunKind) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / "bot" / "assets" / "crds" / f"{PLURALS[kind]}.yaml").read_text()
    )
    return loaded


def version_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_committed_crds_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_crds.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _expected_type(annotation: Any) -> str:
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    base = (
        args[0] if args and typing.get_origin(annotation) in (typing.Union, type(int | None)) else annotation
    )
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if typing.get_origin(base) is typing.Literal:
        return "string"
    if typing.get_origin(base) is list:
        return "array"
    return {int: "integer", str: "string", bool: "boolean"}.get(base, "object")


def _check_model_against_schema(model: type[BaseModel], schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    assert set(properties) == {field.alias for field in model.model_fields.values()}
    required = set(schema.get("required", []))
    for name, field in model.model_fields.items():
        info = field
        alias = info.alias
        assert alias is not None and alias[0].islower() and "_" not in alias, name
        assert alias.replace("_", "").lower() == name.replace("_", "").lower()
        prop = properties[alias]
        assert (alias in required) == info.is_required(), alias
        assert prop["type"] == _expected_type(info.annotation), alias
        has_scalar_default = info.default_factory is None and info.default is not None
        if not info.is_required() and has_scalar_default:
            assert prop.get("default") == info.default, alias
        else:
            assert "default" not in prop, alias


@pytest.mark.parametrize("kind", KINDS)
def test_spec_schema_agrees_with_the_model_field_by_field(kind: RunKind) -> None:
    schema = version_schema(crd_from_file(kind))
    assert schema["required"] == ["spec"]
    _check_model_against_schema(SPEC_MODELS[kind], schema["properties"]["spec"])


@pytest.mark.parametrize("kind", KINDS)
def test_status_schema_agrees_with_the_model_field_by_field(kind: RunKind) -> None:
    _check_model_against_schema(
        STATUS_MODELS[kind], version_schema(crd_from_file(kind))["properties"]["status"]
    )


def test_code_run_schema_details_from_the_spec() -> None:
    spec = version_schema(crd_from_file("CodeRun"))["properties"]["spec"]
    assert spec["required"] == [
        "taskId",
        "service",
        "repositoryUrl",
        "platformRepositoryUrl",
        "branch",
        "workingDirectory",
        "model",
        "githubUser",
    ]
    assert spec["properties"]["taskId"] == {**spec["properties"]["taskId"], "type": "integer", "minimum": 1}
    assert spec["properties"]["contextVersion"]["default"] == 1
    assert spec["properties"]["toolConfig"]["default"] == "default"
    assert spec["properties"]["promptMode"]["enum"] == ["append", "replace"]
    assert spec["properties"]["promptMode"]["default"] == "append"
    assert spec["properties"]["overwriteMemory"]["default"] is False
    assert "pattern" in spec["properties"]["service"] and "pattern" in spec["properties"]["githubUser"]


@pytest.mark.parametrize("kind", KINDS)
def test_crd_shape(kind: RunKind) -> None:
    crd = crd_from_file(kind)
    assert crd == custom_resource_definition(kind)
    assert crd["spec"]["group"] == "orchestrator.platform"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == [{"DocsRun": "dr", "CodeRun": "cr"}[kind]]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1" and version["subresources"] == {"status": {}}
    phase = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["phase"]
    assert phase["enum"] == ["Queued", "Pending", "Running", "Succeeded", "Failed", "Cancelled"]
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert (
        columns
        == {
            "DocsRun": ["Phase", "Turns", "Cost", "Age"],
            "CodeRun": ["Task", "Service", "Model", "Phase", "Turns", "Cost", "Age"],
        }[kind]
    )
