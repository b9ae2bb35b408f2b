"""API errors as the apiserver reports them: `metav1.Status` objects with a reason and a code.

Messages follow the apiserver's wording so that code written against this server reads the same
errors it will meet on a cluster (kubernetes_asyncio puts the body into `ApiException.body`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.kube.resources import ResourceType

# Go's field.ErrorType strings and the StatusCause reasons they map to.
_CAUSE_REASONS = {
    "Invalid value": "FieldValueInvalid",
    "Required value": "FieldValueRequired",
    "Unsupported value": "FieldValueNotSupported",
    "Forbidden": "FieldValueForbidden",
    "Duplicate value": "FieldValueDuplicate",
    "Not found": "FieldValueNotFound",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
}


def go_quote(value: Any) -> str:
    """Render a value the way Go's field errors print it (%q for strings, JSON-ish for the rest)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One field problem, printed like apimachinery's `field.Error`."""

    field: str
    type: str  # one of the keys of _CAUSE_REASONS
    value: Any = None
    detail: str = ""
    show_value: bool = True

    def __str__(self) -> str:
        if self.type in ("Required value", "Forbidden", "Too long"):
            return f"{self.field}: {self.type}" + (f": {self.detail}" if self.detail else "")
        text = f"{self.field}: {self.type}"
        if self.show_value:
            text += f": {go_quote(self.value)}"
        return text + (f": {self.detail}" if self.detail else "")

    def cause(self) -> dict[str, str]:
        message = str(self)
        prefix = f"{self.field}: "
        return {
            "reason": _CAUSE_REASONS.get(self.type, "FieldValueInvalid"),
            "message": message[len(prefix) :] if message.startswith(prefix) else message,
            "field": self.field,
        }


def invalid(field_path: str, value: Any, detail: str) -> FieldError:
    return FieldError(field_path, "Invalid value", value, detail)


def required(field_path: str, detail: str = "") -> FieldError:
    return FieldError(field_path, "Required value", detail=detail)


def unsupported(field_path: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(
        field_path,
        "Unsupported value",
        value,
        "supported values: " + ", ".join(go_quote(s) for s in supported),
    )


def forbidden(field_path: str, detail: str) -> FieldError:
    return FieldError(field_path, "Forbidden", detail=detail)


@dataclass
class ApiError(Exception):
    """A failed request; `to_status()` is the body the client receives."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status

    # Constructors named after the apiserver's StatusReason values.

    @classmethod
    def not_found(cls, rtype: ResourceType, name: str) -> ApiError:
        return cls(404, "NotFound", f'{rtype.group_resource} "{name}" not found', _details(rtype, name))

    @classmethod
    def namespace_not_found(cls, namespace: str) -> ApiError:
        return cls(
            404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
        )

    @classmethod
    def path_not_found(cls) -> ApiError:
        return cls(404, "NotFound", "the server could not find the requested resource", {})

    @classmethod
    def already_exists(cls, rtype: ResourceType, name: str) -> ApiError:
        return cls(
            409, "AlreadyExists", f'{rtype.group_resource} "{name}" already exists', _details(rtype, name)
        )

    @classmethod
    def conflict(cls, rtype: ResourceType, name: str, why: str | None = None) -> ApiError:
        why = (
            why
            or "the object has been modified; please apply your changes to the latest version and try again"
        )
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": {why}',
            _details(rtype, name),
        )

    @classmethod
    def invalid(cls, rtype: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
        summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
        details: dict[str, Any] = {"name": name, "group": rtype.group, "kind": rtype.kind}
        if not rtype.group:
            del details["group"]
        details["causes"] = [e.cause() for e in errors]
        return cls(422, "Invalid", f'{rtype.qualified_kind} "{name}" is invalid: {summary}', details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def forbidden(cls, message: str, details: dict[str, Any] | None = None) -> ApiError:
        return cls(403, "Forbidden", message, details)

    @classmethod
    def method_not_allowed(cls) -> ApiError:
        return cls(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @classmethod
    def unsupported_media_type(cls, content_type: str, accepted: list[str]) -> ApiError:
        return cls(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": content_type}]},
        )

    @classmethod
    def not_acceptable(cls, accepted: list[str]) -> ApiError:
        return cls(
            406,
            "NotAcceptable",
            f"only the following media types are accepted: {', '.join(accepted)}",
        )

    @classmethod
    def expired(cls, requested: int, oldest: int) -> ApiError:
        return cls(410, "Expired", f"too old resource version: {requested} ({oldest})")

    @classmethod
    def internal(cls, message: str) -> ApiError:
        return cls(
            500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
        )


def _details(rtype: ResourceType, name: str) -> dict[str, Any]:
    # The apiserver puts the resource (plural) into details.kind for these reasons.
    details: dict[str, Any] = {"name": name}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    return details
