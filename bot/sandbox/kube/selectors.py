"""Label selectors (=, ==, !=, in, notin, exists, !exists, gt, lt) and field selectors, as the apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.resources import ResourceType

Obj = dict[str, Any]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        try:  # gt / lt compare integers; a label that is not an integer does not match
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.operator == "gt" else number < bound


_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=,()<>]+)")


def parse_label_selector(text: str) -> tuple[Requirement, ...]:
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ApiError.bad_request(f"unable to parse requirement: invalid label selector {text!r}")
    requirements: list[Requirement] = []
    position = 0

    def fail(why: str) -> ApiError:
        return ApiError.bad_request(f"unable to parse requirement: {why} in label selector {text!r}")

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise fail("unexpected end")
        position += 1
        return tokens[position - 1]

    while position < len(tokens):
        word = take()
        if word == "!":
            requirements.append(Requirement(take(), "!"))
        else:
            key = word
            if position >= len(tokens) or tokens[position] == ",":
                requirements.append(Requirement(key, "exists"))
            else:
                operator = take()
                if operator in ("=", "==", "!="):
                    value = tokens[position] if position < len(tokens) and tokens[position] != "," else ""
                    if value:
                        position += 1
                    requirements.append(Requirement(key, "!=" if operator == "!=" else "=", (value,)))
                elif operator in ("in", "notin"):
                    if take() != "(":
                        raise fail(f"expected '(' after {operator}")
                    values: list[str] = []
                    while (item := take()) != ")":
                        if item != ",":
                            values.append(item)
                    requirements.append(Requirement(key, operator, tuple(values)))
                elif operator in (">", "<"):
                    bound = take()
                    if not bound.lstrip("-").isdigit():
                        raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer, got {bound!r}")
                    requirements.append(Requirement(key, "gt" if operator == ">" else "lt", (bound,)))
                else:
                    raise fail(f"found '{operator}', expected: '=', '!=', '==', 'in', notin'")
        if position < len(tokens):
            if tokens[position] != ",":
                raise fail(f"found '{tokens[position]}', expected: ',' or 'end of string'")
            position += 1
    return tuple(requirements)


def labels_match(requirements: tuple[Requirement, ...], obj: Obj) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in requirements)


# Field selectors: each kind supports metadata.name / metadata.namespace plus a few fields of its own.


def _path(*parts: str) -> Callable[[Obj], str]:
    def read(obj: Obj) -> str:
        value: Any = obj
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
        return str(value).lower() if isinstance(value, bool) else str(value)

    return read


_COMMON_FIELDS = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}
_KIND_FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
    },
    "Event": {
        **{
            f"involvedObject.{f}": _path("involvedObject", f)
            for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _path("reason"),
        "type": _path("type"),
        "source": _path("source", "component"),
        "reportingComponent": _path("reportingComponent"),
    },
    "Secret": {"type": _path("type")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "Job": {"status.successful": _path("status", "succeeded")},
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str
    read: Callable[[Obj], str]

    def matches(self, obj: Obj) -> bool:
        return (self.read(obj) == self.value) == self.equal


def parse_field_selector(text: str, rtype: ResourceType) -> tuple[FieldRequirement, ...]:
    supported = dict(_COMMON_FIELDS)
    supported.update(_KIND_FIELDS.get(rtype.kind, {}) if not rtype.is_custom else {})
    if rtype.custom is not None:
        for json_path in rtype.custom.selectable_fields:
            supported[json_path.lstrip(".")] = _path(*json_path.lstrip(".").split("."))
    requirements: list[FieldRequirement] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        match = re.fullmatch(r"([^!=]+?)\s*(==|=|!=)\s*(.*)", term)
        if not match:
            raise ApiError.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        name, operator, value = match.groups()
        if name not in supported:
            raise ApiError.bad_request(f"field label not supported: {name}")
        requirements.append(FieldRequirement(name, operator != "!=", value, supported[name]))
    return tuple(requirements)


def fields_match(requirements: tuple[FieldRequirement, ...], obj: Obj) -> bool:
    return all(r.matches(obj) for r in requirements)
