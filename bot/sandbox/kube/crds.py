"""CustomResourceDefinitions: the checks a CRD must pass and the resource types it serves."""

from __future__ import annotations

import datetime
import re
from typing import Any

from bot.sandbox.kube.errors import FieldError, invalid, required, unsupported
from bot.sandbox.kube.meta import is_dns1123_label, is_dns1123_subdomain
from bot.sandbox.kube.resources import CustomKind, PrinterColumn, ResourceType
from bot.sandbox.kube.structural import structural_errors

Obj = dict[str, Any]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
_AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


def crd_errors(crd: Obj, old: Obj | None) -> list[FieldError]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    errors: list[FieldError] = []
    if crd["metadata"].get("name") != f"{plural}.{group}":
        errors.append(
            invalid("metadata.name", crd["metadata"].get("name"), 'must be spec.names.plural+"."+spec.group')
        )
    if not group:
        errors.append(required("spec.group"))
    elif not is_dns1123_subdomain(group) or "." not in group:
        errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        errors.append(required("spec.names.plural"))
    elif not is_dns1123_label(plural):
        errors.append(invalid("spec.names.plural", plural, "a lowercase RFC 1123 label is required"))
    kind = names.get("kind") or ""
    if not kind:
        errors.append(required("spec.names.kind"))
    elif not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", kind):
        errors.append(
            invalid("spec.names.kind", kind, "may have mixed case, but should otherwise match: [a-z]")
        )
    for index, short in enumerate(names.get("shortNames") or []):
        if not is_dns1123_label(short):
            errors.append(
                invalid(f"spec.names.shortNames[{index}]", short, "a lowercase RFC 1123 label is required")
            )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(unsupported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"]))
    errors += _version_errors(spec.get("versions") or [])
    if old is not None:
        old_spec = old.get("spec") or {}
        for field in ("group", "scope"):
            if spec.get(field) != old_spec.get(field):
                errors.append(invalid(f"spec.{field}", spec.get(field), "field is immutable"))
    return errors


def _version_errors(versions: list[Obj]) -> list[FieldError]:
    if not versions:
        return [invalid("spec.versions", versions, "must have exactly one version marked as storage version")]
    errors: list[FieldError] = []
    if sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    seen: set[str] = set()
    for index, version in enumerate(versions):
        path = f"spec.versions[{index}]"
        name = version.get("name") or ""
        if not is_dns1123_label(name):
            errors.append(invalid(f"{path}.name", name, "a DNS-1035 label is required"))
        if name in seen:
            errors.append(FieldError(f"{path}.name", "Duplicate value", name))
        seen.add(name)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errors.append(required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errors += structural_errors(schema, f"{path}.schema.openAPIV3Schema", root=True)
        for column_index, column in enumerate(version.get("additionalPrinterColumns") or []):
            column_path = f"{path}.additionalPrinterColumns[{column_index}]"
            if not column.get("name"):
                errors.append(required(f"{column_path}.name"))
            if column.get("type") not in COLUMN_TYPES:
                errors.append(unsupported(f"{column_path}.type", column.get("type"), COLUMN_TYPES))
            json_path = column.get("jsonPath") or ""
            if not json_path:
                errors.append(required(f"{column_path}.jsonPath"))
            elif not json_path.startswith("."):
                errors.append(
                    invalid(
                        f"{column_path}.jsonPath", json_path, "must be a simple json path starting with ."
                    )
                )
    return errors


def accepted_names(crd: Obj) -> Obj:
    names = dict(crd["spec"]["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    return names


def crd_status(crd: Obj, previous_status: Obj | None) -> Obj:
    """Established at once: this server has no controller delay to model."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    stored = list((previous_status or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    return {
        "acceptedNames": accepted_names(crd),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": stored,
    }


def custom_types(crd: Obj) -> tuple[ResourceType, ...]:
    spec = crd["spec"]
    names = accepted_names(crd)
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    types: list[ResourceType] = []
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        columns = tuple(
            PrinterColumn(
                name=c["name"],
                type=c["type"],
                json_path=c["jsonPath"],
                description=c.get("description", ""),
                priority=int(c.get("priority", 0)),
                format=c.get("format", ""),
            )
            for c in version.get("additionalPrinterColumns") or []
        ) or (_AGE_COLUMN,)
        custom = CustomKind(
            crd_name=crd["metadata"]["name"],
            schema=version["schema"]["openAPIV3Schema"],
            printer_columns=columns,
            selectable_fields=tuple(f["jsonPath"] for f in version.get("selectableFields") or []),
            storage_version=storage,
        )
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names["singular"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in (version.get("subresources") or {}),
                tracks_generation=True,
                unconditional_update=False,
                custom=custom,
            )
        )
    return tuple(types)
