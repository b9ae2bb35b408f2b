"""GitHub's OpenAPI description (the vendored subset): find the operation a request is for, and check
the request and our own response against it.

The description is OpenAPI 3.0, whose schemas are JSON Schema plus `nullable`. On load, `nullable: true`
is rewritten into JSON Schema (`type: [..., "null"]`, or `anyOf` with `{"type": "null"}`), so that
jsonschema's Draft 2020-12 validator can check bodies, parameters and responses exactly as described:
required fields, types, enums, `maxItems`, `maxLength` and the rest come from GitHub's file, not from
this code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DESCRIPTION_FILE = "api.github.com-subset.json"
BASE_URI = "urn:github-openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")
JSON = "application/json"


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    schema_pointer: str
    multi_segment: bool


@dataclass(frozen=True)
class Operation:
    """One operation of the description: how to match it, and where its schemas live."""

    operation_id: str
    method: str
    path_template: str
    parameters: tuple[Parameter, ...]
    body_pointer: str | None
    body_required: bool
    response_pointers: Mapping[str, str | None]
    documentation_url: str
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def literal_weight(self) -> int:
        """Templates with more literal text win over templates with more parameters."""
        return len(re.sub(r"\{[^}]+\}", "", self.path_template))


@dataclass(frozen=True)
class Match:
    operation: Operation
    path_params: dict[str, Any]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema (in place): `nullable: true` becomes an explicit null."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in node.items():
        node[key] = to_json_schema(value)
    if node.get("nullable") is True:
        del node["nullable"]
        composite = any(key in node for key in ("$ref", "allOf", "anyOf", "oneOf"))
        if composite or not isinstance(node.get("type"), str):
            inner = dict(node)
            node.clear()
            node["anyOf"] = [{"type": "null"}, inner]
        else:
            node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
    return node


class Description:
    """The vendored subset, ready to route and validate. Build with `Description.load()`."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = to_json_schema(document)
        self.vendored: dict[str, Any] = document.get("x-vendored", {})
        self._registry: Registry[Any] = Registry().with_resource(
            BASE_URI, DRAFT202012.create_resource(self.document)
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self.operations = {op.operation_id: op for op in self._read_operations()}

    @classmethod
    def load(cls) -> Description:
        return _load_description()

    # --- reading the description ---------------------------------------------------------------

    def _resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """Follow a `$ref` (components only) and return the target with its pointer."""
        while "$ref" in node:
            pointer = node["$ref"]
            target: Any = self.document
            for part in pointer[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, pointer

    def _read_operations(self) -> list[Operation]:
        operations = []
        for path, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    operations.append(self._read_operation(path, method, item))
        return operations

    def _read_operation(self, path: str, method: str, item: dict[str, Any]) -> Operation:
        raw = item[method]
        here = f"#/paths/{_escape(path)}/{method}"
        parameters: list[Parameter] = []
        declared = [
            (p, f"#/paths/{_escape(path)}/parameters/{i}") for i, p in enumerate(item.get("parameters", []))
        ]
        declared += [(p, f"{here}/parameters/{i}") for i, p in enumerate(raw.get("parameters", []))]
        for node, pointer in declared:
            parameter, pointer = self._resolve(node, pointer)
            parameters.append(
                Parameter(
                    name=parameter["name"],
                    location=parameter["in"],
                    required=bool(parameter.get("required", False)),
                    schema=parameter.get("schema", {}),
                    schema_pointer=f"{pointer}/schema",
                    multi_segment=bool(parameter.get("x-multi-segment", False)),
                )
            )
        body_pointer, body_required = None, False
        if "requestBody" in raw:
            body, pointer = self._resolve(raw["requestBody"], f"{here}/requestBody")
            if JSON in body.get("content", {}):
                body_pointer = f"{pointer}/content/{_escape(JSON)}/schema"
                body_required = bool(body.get("required", False))
        responses: dict[str, str | None] = {}
        for status, node in raw.get("responses", {}).items():
            response, pointer = self._resolve(node, f"{here}/responses/{status}")
            content = response.get("content", {})
            responses[status] = f"{pointer}/content/{_escape(JSON)}/schema" if JSON in content else None
        path_kinds = {p.name: p.multi_segment for p in parameters if p.location == "path"}

        def segment(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?P<{name}>.+)" if path_kinds.get(name) else f"(?P<{name}>[^/]+)"

        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", segment, re.escape(path)) + "/?$")
        return Operation(
            operation_id=raw["operationId"],
            method=method.upper(),
            path_template=path,
            parameters=tuple(parameters),
            body_pointer=body_pointer,
            body_required=body_required,
            response_pointers=responses,
            documentation_url=raw.get("externalDocs", {}).get("url", "https://docs.github.com/rest"),
            pattern=pattern,
        )

    # --- routing --------------------------------------------------------------------------------

    @cached_property
    def _by_weight(self) -> list[Operation]:
        return sorted(self.operations.values(), key=lambda op: -op.literal_weight)

    def match(self, method: str, raw_path: str, served: frozenset[str] | None = None) -> Match | None:
        """The operation for `method` and the still-percent-encoded `raw_path`, with typed path params.

        A path parameter that does not fit its schema (a non-numeric issue number) means no match,
        as on GitHub, where such a URL is simply not found.
        """
        for operation in self._by_weight:
            if operation.method != method.upper() or (
                served is not None and operation.operation_id not in served
            ):
                continue
            found = operation.pattern.match(raw_path)
            if found is None:
                continue
            params = self._path_params(operation, {k: unquote(v) for k, v in found.groupdict().items()})
            if params is not None:
                return Match(operation, params)
        return None

    def _path_params(self, operation: Operation, raw: dict[str, str]) -> dict[str, Any] | None:
        typed: dict[str, Any] = {}
        for parameter in operation.parameters:
            if parameter.location != "path":
                continue
            value, ok = coerce(raw[parameter.name], parameter.schema)
            if not ok or self._errors(parameter.schema_pointer, value):
                return None
            typed[parameter.name] = value
        return typed

    # --- validation -----------------------------------------------------------------------------

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{BASE_URI}{pointer}"}, registry=self._registry
            )
        return self._validators[pointer]

    def _errors(self, pointer: str, instance: Any) -> list[ValidationError]:
        return list(self._validator(pointer).iter_errors(instance))

    def query_problems(
        self, operation: Operation, query: Mapping[str, str]
    ) -> tuple[dict[str, Any], list[str]]:
        """Typed query values (unknown parameters are ignored, as GitHub does) and what is wrong."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for parameter in operation.parameters:
            if parameter.location != "query":
                continue
            if parameter.name not in query:
                if parameter.required:
                    problems.append(f'"{parameter.name}" wasn\'t supplied.')
                elif "default" in parameter.schema:
                    values[parameter.name] = parameter.schema["default"]
                continue
            value, ok = coerce(query[parameter.name], parameter.schema)
            if not ok:
                problems.append(
                    f"For '{parameter.name}', {query[parameter.name]!r} is not {parameter.schema.get('type')}."
                )
                continue
            problems += [
                describe(error, parameter.name) for error in self._errors(parameter.schema_pointer, value)
            ]
            values[parameter.name] = value
        return values, problems

    def body_problems(self, operation: Operation, body: Any) -> list[str]:
        """What is wrong with a decoded JSON body (None = no body) for `operation`."""
        if operation.body_pointer is None:
            return []
        if body is None:
            if not operation.body_required:
                return []
            body = {}
        return [describe(error) for error in self._errors(operation.body_pointer, body)]

    def response_problems(self, operation: Operation, status: int, body: Any) -> list[str]:
        """Where our answer departs from the described response (empty if the status is undescribed
        and not a success: the description omits most error statuses)."""
        key = str(status) if str(status) in operation.response_pointers else "default"
        if key not in operation.response_pointers:
            return [f"status {status} is not described for {operation.operation_id}"] if status < 300 else []
        pointer = operation.response_pointers[key]
        if pointer is None:
            return []
        return [describe(error) for error in self._errors(pointer, body)]

    def webhook_problems(self, name: str, payload: Any) -> list[str]:
        """What is wrong with a webhook payload for `name` (e.g. "issue-comment-created")."""
        pointer = f"#/x-webhooks/{name}/post/requestBody/content/{_escape(JSON)}/schema"
        return [describe(error) for error in self._errors(pointer, payload)]


@cache
def _load_description() -> Description:
    text = (resources.files("bot.sandbox") / "github" / "openapi" / DESCRIPTION_FILE).read_text()
    return Description(json.loads(text))


def coerce(raw: str, schema: Mapping[str, Any]) -> tuple[Any, bool]:
    """A path or query string as the schema's scalar type; (value, False) if it cannot be one."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    try:
        if "integer" in kinds:
            return int(raw), True
        if "number" in kinds:
            return float(raw), True
    except ValueError:
        return raw, False
    if "boolean" in kinds:
        if raw in ("true", "false"):
            return raw == "true", True
        return raw, False
    return raw, True


def describe(error: ValidationError, root: str = "") -> str:
    """A jsonschema error in the words GitHub uses for "Invalid request" (422) messages."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        error = best_match(error.context)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        where = "/".join(str(p) for p in error.absolute_path)
        suffix = f" in '{where}'" if where else ""
        return " ".join(f'"{name}" wasn\'t supplied{suffix}.' for name in missing)
    where = "/".join(str(p) for p in error.absolute_path) or root or "body"
    limit = error.validator_value
    if error.validator == "maxItems" and isinstance(error.instance, list):
        return f"For '{where}', {len(error.instance)} items is more than the maximum of {limit}."
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"For '{where}', {_short(repr(error.instance), 60)} is too long ({len(error.instance)} characters, maximum {limit})."
    return f"For '{where}', {_short(error.message)}."


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
