"""A CRD's openAPIV3Schema used as the apiextensions-apiserver uses a structural schema:
prune unknown fields, apply `default`s, validate (types, required, enum, pattern, bounds...).

CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import functools
import json
import re
import uuid
from typing import Any

import jsonschema

from bot.sandbox.kube.errors import FieldError, go_quote, invalid, required, unsupported
from bot.sandbox.kube.schemas import field_path

Obj = dict[str, Any]
Schema = dict[str, Any]

# Keywords that carry no validation for jsonschema (or that we translate ourselves).
_DROPPED_KEYWORDS = {"nullable", "default", "description", "example", "externalDocs", "format", "title"}
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "definitions")
_SCHEMA_KEYWORDS = ("additionalProperties", "additionalItems", "not")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")
_CHECKED_FORMATS = ("date-time", "date", "byte", "uuid", "int32")


def to_json_schema(node: Schema) -> Schema:
    """OpenAPI v3 (the Kubernetes subset) to JSON Schema draft 4: nullable, int-or-string, formats."""
    out: Schema = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in _DROPPED_KEYWORDS:
            continue
        if key in _SCHEMA_MAP_KEYWORDS:
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_KEYWORDS:
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in _SCHEMA_LIST_KEYWORDS:
            out[key] = [to_json_schema(sub) for sub in value]
        elif key == "items":
            out[key] = (
                to_json_schema(value) if isinstance(value, dict) else [to_json_schema(s) for s in value]
            )
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if node.get("format") in _CHECKED_FORMATS:
        out["format"] = node["format"]
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if not re.match(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}", value):
            raise ValueError(value)
    return True


def _is_date(value: object) -> bool:
    if isinstance(value, str):
        datetime.date.fromisoformat(value)
    return True


def _is_byte(value: object) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


def _is_uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)
_FORMATS.checks("date", raises=ValueError)(_is_date)
_FORMATS.checks("byte", raises=(binascii.Error, ValueError))(_is_byte)
_FORMATS.checks("uuid", raises=ValueError)(_is_uuid)
_FORMATS.checks("int32")(_is_int32)


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    validator: jsonschema.protocols.Validator = jsonschema.Draft4Validator(
        to_json_schema(json.loads(schema_json)), format_checker=_FORMATS
    )
    return validator


def validate(obj: Obj, schema: Schema) -> list[FieldError]:
    """Every violation of `schema` by `obj`, worded as kube-openapi's validator words them."""
    # metadata is ObjectMeta, checked on its own; the schema may only narrow name/generateName
    candidate = {k: v for k, v in obj.items() if k != "metadata"}
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k != "metadata"}
    root = {**schema, "properties": properties}
    validator = _validator(json.dumps(root, sort_keys=True))
    errors = sorted(validator.iter_errors(candidate), key=lambda e: [str(p) for p in e.absolute_path])
    return [error for e in errors for error in _field_errors(e)]


def _field_errors(error: jsonschema.ValidationError) -> list[FieldError]:
    path = field_path(error.absolute_path)
    value = error.instance
    rule = error.validator_value
    if error.validator == "required" and isinstance(value, dict):
        return [required(f"{path}.{name}" if path else name) for name in rule if name not in value]
    shown = path or "<root>"
    if error.validator == "type":
        wanted = rule if isinstance(rule, str) else "/".join(t for t in rule if t != "null")
        return [
            invalid(path, value, f"{shown} in body must be of type {wanted}: {go_quote(_type_name(value))}")
        ]
    if error.validator == "enum":
        return [
            unsupported(
                path, value, [v if isinstance(v, str) else go_quote(v) for v in rule if v is not None]
            )
        ]
    messages = {
        "pattern": f"{shown} in body should match '{rule}'",
        "minimum": f"{shown} in body should be greater than or equal to {rule}",
        "maximum": f"{shown} in body should be less than or equal to {rule}",
        "exclusiveMinimum": f"{shown} in body should be greater than {error.schema.get('minimum')}",
        "exclusiveMaximum": f"{shown} in body should be less than {error.schema.get('maximum')}",
        "minLength": f"{shown} in body should be at least {rule} chars long",
        "minItems": f"{shown} in body should have at least {rule} items",
        "minProperties": f"{shown} in body should have at least {rule} properties",
        "multipleOf": f"{shown} in body should be a multiple of {rule}",
        "format": f"{shown} in body must be of type {rule}: {go_quote(value)}",
    }
    if error.validator == "maxLength":
        return [FieldError(path, "Too long", detail=f"may not be more than {rule} bytes")]
    if error.validator in ("maxItems", "maxProperties"):
        return [
            FieldError(
                path,
                "Too many",
                len(value) if hasattr(value, "__len__") else value,
                f"must have at most {rule} items",
            )
        ]
    if error.validator == "uniqueItems":
        return [FieldError(path, "Duplicate value", value, show_value=True)]
    detail = messages.get(str(error.validator), f"{shown} in body {error.message}")
    return [invalid(path, value, detail)]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def prune(value: Any, schema: Schema, path: str, dropped: list[str]) -> Any:
    """Drop fields the schema does not specify (recording their paths), as structural pruning does."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        kept: Obj = {}
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else key
            if key in properties:
                kept[key] = prune(item, properties[key], item_path, dropped)
            elif isinstance(additional, dict):
                kept[key] = prune(item, additional, item_path, dropped)
            elif preserve or additional is True or (embedded and key in ("apiVersion", "kind", "metadata")):
                kept[key] = item
            else:
                dropped.append(item_path)
        return kept
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], f"{path}[{index}]", dropped) for index, item in enumerate(value)]
    return value


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Fill `default`s for absent fields (and for nulls where the field is not nullable)."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if "default" in sub and (key not in value or (value[key] is None and not sub.get("nullable"))):
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            if key in properties:
                value[key] = apply_defaults(item, properties[key])
            elif isinstance(schema.get("additionalProperties"), dict):
                value[key] = apply_defaults(item, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def structural_errors(schema: Any, path: str, *, root: bool = False) -> list[FieldError]:
    """The structural-schema rules a CRD's schema must satisfy (the ones a hand-written CRD breaks)."""
    errors: list[FieldError] = []
    if not isinstance(schema, dict):
        return [invalid(path, schema, "must be an object")]
    has_type = "type" in schema
    if (
        not has_type
        and not schema.get("x-kubernetes-int-or-string")
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        errors.append(required(f"{path}.type", "must not be empty for specified object fields"))
    if root and schema.get("type") != "object":
        errors.append(invalid(f"{path}.type", schema.get("type"), "must be object at the root"))
    if schema.get("type") not in (None, "object", "array", "string", "integer", "number", "boolean"):
        errors.append(
            unsupported(
                f"{path}.type",
                schema.get("type"),
                ["array", "boolean", "integer", "number", "object", "string"],
            )
        )
    if schema.get("type") == "array" and "items" not in schema:
        errors.append(required(f"{path}.items", "must be specified"))
    if (
        "properties" in schema
        and "additionalProperties" in schema
        and schema["additionalProperties"] is not False
    ):
        errors.append(
            FieldError(
                f"{path}.additionalProperties",
                "Forbidden",
                detail="additionalProperties and properties are mutual exclusive",
            )
        )
    if schema.get("additionalProperties") is False:
        errors.append(
            FieldError(
                f"{path}.additionalProperties",
                "Forbidden",
                detail="must not be false (pruning takes care of unknown fields)",
            )
        )
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as exc:
            errors.append(
                invalid(f"{path}.pattern", schema["pattern"], f"must be a valid regular expression: {exc}")
            )
    for key, sub in (schema.get("properties") or {}).items():
        if root and key == "metadata":
            errors += _root_metadata_errors(sub, f"{path}.properties[metadata]")
            continue
        errors += structural_errors(sub, f"{path}.properties[{key}]")
    if isinstance(schema.get("items"), dict):
        errors += structural_errors(schema["items"], f"{path}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        errors += structural_errors(schema["additionalProperties"], f"{path}.additionalProperties")
    if "default" in schema and not root:
        errors += _default_errors(schema, path)
    return errors


def _root_metadata_errors(schema: Any, path: str) -> list[FieldError]:
    if not isinstance(schema, dict):
        return [invalid(path, schema, "must be an object")]
    extra = set(schema.get("properties") or {}) - {"name", "generateName"}
    if extra or set(schema) - {"type", "properties", "description"}:
        return [
            FieldError(
                path,
                "Forbidden",
                detail="must not specify anything other than name and generateName, "
                "but metadata is implicitly specified",
            )
        ]
    return []


def _default_errors(schema: Schema, path: str) -> list[FieldError]:
    default = copy.deepcopy(schema["default"])
    dropped: list[str] = []
    pruned = prune(default, schema, "", dropped)
    if dropped:
        return [invalid(f"{path}.default", default, f"must not have unknown fields: {', '.join(dropped)}")]
    node = {k: v for k, v in schema.items() if k != "default"}
    failures = list(_validator(json.dumps(node, sort_keys=True)).iter_errors(apply_defaults(pruned, schema)))
    if failures:
        return [invalid(f"{path}.default", default, failures[0].message)]
    return []
