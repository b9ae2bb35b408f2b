"""CustomResourceDefinitions generated from the resource models.

`k8s/crds/*.yaml` and the Helm chart's CRD templates are the output of `custom_resource_definition`;
a test regenerates them and compares, so the cluster's schema is always the models' schema.
"""

from __future__ import annotations

from typing import Any

from bot.core.resources import (
    GROUP,
    PLURALS,
    SHORT_NAMES,
    SPEC_MODELS,
    STATUS_MODELS,
    VERSION,
    CamelModel,
    RunKind,
)

# What the agent's transcript says (status.progress, written by the log follower).
_PROGRESS_COLUMNS: list[dict[str, Any]] = [
    {"name": "Turns", "type": "integer", "jsonPath": ".status.progress.turns"},
    {"name": "Cost", "type": "number", "jsonPath": ".status.progress.costUsd", "description": "USD"},
]
_PRINTER_COLUMNS: dict[RunKind, list[dict[str, Any]]] = {
    "DocsRun": [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        *_PROGRESS_COLUMNS,
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
    "CodeRun": [
        {"name": "Task", "type": "integer", "jsonPath": ".spec.taskId"},
        {"name": "Service", "type": "string", "jsonPath": ".spec.service"},
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        *_PROGRESS_COLUMNS,
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
}

_DESCRIPTIONS: dict[RunKind, str] = {
    "DocsRun": "A documentation agent run, started from a /docs command or the docs label.",
    "CodeRun": "A coding agent run for one task and service, started from a /code command or the code label.",
}

# JSON-schema keywords a structural CRD schema may carry over from pydantic's schema.
_KEPT_KEYWORDS = ("description", "pattern", "minimum", "maximum", "minLength", "maxLength", "enum", "default")


def openapi_schema(model: type[CamelModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of `model`, camelCase, with `$ref`s inlined and optionals
    expressed by absence from `required` (Kubernetes has no `anyOf: [.., null]`)."""
    full = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(full, full.get("$defs", {}))


def _structural(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _structural(definitions[schema["$ref"].split("/")[-1]], definitions)
    if "anyOf" in schema:
        choices = [choice for choice in schema["anyOf"] if choice.get("type") != "null"]
        if len(choices) != 1:
            raise ValueError(f"a CRD field must have one type, not {choices}")
        merged = {**choices[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        if merged.get("default", ...) is None:
            del merged["default"]
        return _structural(merged, definitions)
    result: dict[str, Any] = {key: schema[key] for key in _KEPT_KEYWORDS if key in schema}
    if "const" in schema:
        result["enum"] = [schema["const"]]
    if "enum" in result or "const" in schema:
        result["type"] = "string"
    else:
        result["type"] = schema["type"]
    if result["type"] == "object":
        result["properties"] = {
            name: _structural(value, definitions) for name, value in schema.get("properties", {}).items()
        }
        if schema.get("required"):
            result["required"] = list(schema["required"])
    elif result["type"] == "array":
        result["items"] = _structural(schema["items"], definitions)
        if result.get("default") == []:
            del result["default"]
    return result


def custom_resource_definition(kind: RunKind) -> dict[str, Any]:
    plural = PLURALS[kind]
    spec_schema = openapi_schema(SPEC_MODELS[kind])
    status_schema = openapi_schema(STATUS_MODELS[kind])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [SHORT_NAMES[kind]],
                "categories": ["orchestrator"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _PRINTER_COLUMNS[kind],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": _DESCRIPTIONS[kind],
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def spec_schema(kind: RunKind) -> dict[str, Any]:
    """The `spec` schema inside the kind's CRD, as the apiserver validates a run's spec with it."""
    crd = custom_resource_definition(kind)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema
