"""Built-in kinds checked against the Kubernetes 1.33 JSON schemas that kubernetes-validate ships.

This is `kubernetes_validate.validate(obj, "1.33.0", strict=True)` with the validators built once per
kind instead of once per call (each call re-reads a 1.4 MB definitions file) and with every error
collected, so a reply lists them all as the apiserver does. Problems the apiserver finds while
decoding (an unknown field, a wrong JSON type) answer 400; the rest answer 422.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from bot.sandbox.kube.errors import ApiError, FieldError, invalid, required, unsupported
from bot.sandbox.kube.resources import ResourceType

KUBERNETES_VERSION = "1.33.0"
_SCHEMA_DIR = f"v{KUBERNETES_VERSION}-local-strict"
_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_GO_TYPES = {
    "integer": "int64",
    "number": "float64",
    "string": "string",
    "boolean": "bool",
    "object": "map[string]interface {}",
    "array": "[]interface {}",
}


def _schema_file(name: str) -> dict[str, Any]:
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / _SCHEMA_DIR / name
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@functools.cache
def _definitions() -> dict[str, Any]:
    return _schema_file("_definitions.json")


@functools.cache
def _registry() -> Registry[Any]:
    return Resource.from_contents(_definitions()) @ Registry()


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    group, _, version = api_version.rpartition("/")
    api = f"{group.split('.')[0]}-{version}" if group else version
    schema = _schema_file(f"{kind.lower()}-{api}.json")
    registry = Resource.from_contents(schema) @ _registry()
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return validator


@functools.cache
def _definition_validator(definition: str) -> jsonschema.protocols.Validator:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"{_DEFINITIONS_URI}#/$defs/{definition}",
    }
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    return validator


def definition(name: str) -> dict[str, Any]:
    """A schema from the definitions file, e.g. `io.k8s.api.core.v1.PodSpec` (for strategic merge)."""
    found: dict[str, Any] = _definitions()["$defs"][name]
    return found


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (directly or through a single-entry allOf) to the definition it names."""
    ref = node.get("$ref") or next((s.get("$ref") for s in node.get("allOf", []) if "$ref" in s), None)
    if not ref:
        return node
    return definition(ref.rsplit("/", 1)[-1])


def kind_schema(kind: str, api_version: str) -> dict[str, Any]:
    schema: dict[str, Any] = _validator(kind, api_version).schema
    return schema


def field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def check_builtin(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 400 for decode errors, 422 for schema violations of a built-in object."""
    _raise_for(rtype, obj, _validator(rtype.kind, rtype.api_version).iter_errors(obj), "")


def check_object_meta(rtype: ResourceType, metadata: dict[str, Any]) -> None:
    """Custom resources' metadata is decoded as ObjectMeta: the same strictness as built-ins."""
    validator = _definition_validator("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    _raise_for(rtype, {"metadata": metadata}, validator.iter_errors(metadata), "metadata")


def _raise_for(rtype: ResourceType, obj: dict[str, Any], errors: Any, prefix: str) -> None:
    unknown: list[str] = []
    decode_errors: list[str] = []
    field_errors: list[FieldError] = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = field_path([*([prefix] if prefix else []), *error.absolute_path])
        _classify(error, path, unknown, decode_errors, field_errors)
    name = str((obj.get("metadata") or {}).get("name") or "")
    if unknown:
        raise ApiError.bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown)
        )
    if decode_errors:
        raise ApiError.bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: {decode_errors[0]}'
        )
    if field_errors:
        raise ApiError.invalid(rtype, name, field_errors)


def _classify(
    error: jsonschema.ValidationError,
    path: str,
    unknown: list[str],
    decode_errors: list[str],
    field_errors: list[FieldError],
) -> None:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = schema.get("properties", {})
        for key in error.instance:
            if key not in known:
                unknown.append(f"{path}.{key}" if path else key)
    elif error.validator in ("type", "oneOf", "anyOf"):
        wanted = schema.get("type", "string or number")
        wanted_text = "/".join(t for t in wanted if t != "null") if isinstance(wanted, list) else str(wanted)
        go_type = _GO_TYPES.get(wanted_text, wanted_text)
        decode_errors.append(
            f"json: cannot unmarshal {_json_type(error.instance)} into Go struct field {path or 'object'} "
            f"of type {go_type}"
        )
    elif error.validator == "required" and isinstance(error.instance, dict):
        for missing in error.validator_value:
            if missing not in error.instance:
                field_errors.append(required(f"{path}.{missing}" if path else missing))
    elif error.validator == "enum":
        field_errors.append(unsupported(path, error.instance, [str(v) for v in error.validator_value if v]))
    else:
        field_errors.append(invalid(path, error.instance, error.message))
