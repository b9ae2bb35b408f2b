"""What happens to an object between the request body and storage: decoding checks, defaults and
validation, for built-in kinds (kubernetes-validate schemas + kind rules) and for custom resources
(their CRD's structural schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.kube import crds, defaults, rules, schemas, structural
from bot.sandbox.kube.errors import ApiError, FieldError, forbidden
from bot.sandbox.kube.meta import OBJECT_META_FIELDS, metadata_errors
from bot.sandbox.kube.resources import ResourceType

Obj = dict[str, Any]


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    # How unknown fields of custom resources are treated: Ignore, Warn (the default) or Strict.
    # Built-in kinds are always decoded strictly (see schemas.py).
    field_validation: str = "Warn"
    field_manager: str | None = None


@dataclass
class Written:
    """The outcome of a write: the object (or Status) to answer with, its HTTP code, warnings."""

    body: Obj
    code: int = 200
    warnings: list[str] = field(default_factory=list)


def admit(rtype: ResourceType, obj: Obj, old: Obj | None, options: WriteOptions) -> list[str]:
    """Check, default and validate `obj` in place; return warnings; raise ApiError when rejected."""
    errors: list[FieldError] = []
    warnings: list[str] = []
    if rtype.is_custom:
        warnings += _decode_custom(rtype, obj, options)
    else:
        schemas.check_builtin(rtype, obj)
        defaults.apply_builtin_defaults(rtype, obj)
        if rtype.kind == "Secret":
            rules.decode_secret_data(obj)
        errors += rules.kind_rule_errors(rtype, obj, old)
        if rtype.kind == "CustomResourceDefinition":
            errors += crds.crd_errors(obj, old)
    errors = metadata_errors(rtype, obj["metadata"]) + errors
    errors += _finalizer_errors(obj, old)
    if rtype.custom is not None:
        errors += structural.validate(obj, rtype.custom.schema)
    if errors:
        raise ApiError.invalid(rtype, obj["metadata"].get("name") or "", errors)
    return warnings


def _decode_custom(rtype: ResourceType, obj: Obj, options: WriteOptions) -> list[str]:
    assert rtype.custom is not None
    metadata = {k: v for k, v in obj["metadata"].items() if k in OBJECT_META_FIELDS}
    schemas.check_object_meta(rtype, metadata)
    dropped: list[str] = []
    body = structural.prune(
        {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")},
        rtype.custom.schema,
        "",
        dropped,
    )
    if dropped and options.field_validation == "Strict":
        raise ApiError.bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in dropped)
        )
    body = structural.apply_defaults(body, rtype.custom.schema)
    obj.clear()
    obj.update({"apiVersion": rtype.api_version, "kind": rtype.kind, "metadata": metadata, **body})
    if options.field_validation == "Ignore":
        return []
    return [f'unknown field "{f}"' for f in dropped]


def _finalizer_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
    if old is None or not old["metadata"].get("deletionTimestamp"):
        return []
    added = set(obj["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
    if added:
        return [
            forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {sorted(added)!r}",
            )
        ]
    return []
