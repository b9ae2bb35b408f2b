"""Server-side `Table` responses (meta.k8s.io/v1), what `kubectl get` asks for and prints.

Custom resources use their CRD's additionalPrinterColumns; built-in kinds get the columns their
kubectl output is known by (Name, Age, and a few kind-specific ones).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from bot.sandbox.kube.resources import PrinterColumn, ResourceType

Obj = dict[str, Any]
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated."
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value."
)


def table_version(accept: str) -> str | None:
    """ "v1" or "v1beta1" when the Accept header asks for a Table, else None."""
    for media in accept.split(","):
        parts = [p.strip() for p in media.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if (
            parts[0] in ("application/json", "*/*")
            and params.get("as") == "Table"
            and params.get("g") == "meta.k8s.io"
        ):
            version = params.get("v", "v1")
            if version in ("v1", "v1beta1"):
                return version
    return None


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: how kubectl shows an age."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(value: Any) -> str:
    if not isinstance(value, str):
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


# A small JSONPath: .a.b, .a[0], .a[*].b and .a[?(@.type=="Ready")].status, as printer columns use.
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\*)\]|\[\?\(@\.([\w.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def json_path(obj: Any, path: str) -> list[Any]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    current = [obj]
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if not match:
            return []
        position = match.end()
        field, index, filter_field, filter_value = match.groups()
        following: list[Any] = []
        for node in current:
            if field is not None and isinstance(node, dict) and field in node:
                following.append(node[field])
            elif index is not None and isinstance(node, list):
                if index == "*":
                    following.extend(node)
                elif int(index) < len(node):
                    following.append(node[int(index)])
            elif filter_field is not None and isinstance(node, list):
                following.extend(
                    item
                    for item in node
                    if isinstance(item, dict) and str(item.get(filter_field)) == filter_value
                )
        current = following
    return current


def _cell(column: PrinterColumn, obj: Obj) -> Any:
    results = json_path(obj, column.json_path)
    if not results:
        return None
    value = results[0]
    if column.type == "date":
        return age(value)
    if column.type == "integer":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if column.type == "number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if column.type == "boolean":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


Column = tuple[dict[str, Any], Callable[[Obj], Any]]


def _column(
    name: str,
    read: Callable[[Obj], Any],
    *,
    kind: str = "string",
    description: str = "",
    priority: int = 0,
    fmt: str = "",
) -> Column:
    return (
        {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority},
        read,
    )


def _job_status(job: Obj) -> str:
    conditions = {c.get("type"): c.get("status") for c in (job.get("status") or {}).get("conditions") or []}
    for condition in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conditions.get(condition) == "True":
            return condition
    return "Running"


def _job_duration(job: Obj) -> str:
    status = job.get("status") or {}
    if not status.get("startTime"):
        return ""
    end = status.get("completionTime")
    start = datetime.datetime.fromisoformat(status["startTime"].replace("Z", "+00:00"))
    finish = (
        datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
        if end
        else datetime.datetime.now(datetime.UTC)
    )
    return human_duration((finish - start).total_seconds())


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: Obj) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for detail in ("waiting", "terminated"):
            if state.get(detail, {}).get("reason"):
                return str(state[detail]["reason"])
    return str((pod.get("status") or {}).get("phase") or "Unknown")


def _builtin_columns(rtype: ResourceType) -> list[Column]:
    name = _column("Name", lambda o: o["metadata"]["name"], description=_NAME_DESCRIPTION, fmt="name")
    created = _column(
        "Age", lambda o: age(o["metadata"].get("creationTimestamp")), description=_AGE_DESCRIPTION
    )
    extra: list[Column] = {
        "Namespace": [_column("Status", lambda o: (o.get("status") or {}).get("phase", ""))],
        "Pod": [
            _column("Ready", _pod_ready),
            _column("Status", _pod_status),
            _column(
                "Restarts",
                lambda o: sum(
                    s.get("restartCount", 0) for s in (o.get("status") or {}).get("containerStatuses") or []
                ),
                kind="integer",
            ),
        ],
        "Job": [
            _column("Status", _job_status),
            _column(
                "Completions",
                lambda o: (
                    f"{(o.get('status') or {}).get('succeeded', 0)}/"
                    f"{(o.get('spec') or {}).get('completions', 1)}"
                ),
            ),
            _column("Duration", _job_duration),
        ],
        "ConfigMap": [
            _column(
                "Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}), kind="integer"
            )
        ],
        "Secret": [
            _column("Type", lambda o: o.get("type", "")),
            _column("Data", lambda o: len(o.get("data") or {}), kind="integer"),
        ],
        "PersistentVolumeClaim": [_column("Status", lambda o: (o.get("status") or {}).get("phase", ""))],
        "Event": [
            _column(
                "Last Seen",
                lambda o: age(
                    o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
                ),
            ),
            _column("Type", lambda o: o.get("type", "")),
            _column("Reason", lambda o: o.get("reason", "")),
            _column(
                "Object",
                lambda o: (
                    f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                    f"{(o.get('involvedObject') or {}).get('name', '')}"
                ),
            ),
            _column("Message", lambda o: o.get("message", "")),
        ],
        "Lease": [_column("Holder", lambda o: (o.get("spec") or {}).get("holderIdentity", ""))],
        "Deployment": [
            _column(
                "Ready",
                lambda o: (
                    f"{(o.get('status') or {}).get('readyReplicas', 0)}/"
                    f"{(o.get('spec') or {}).get('replicas', 1)}"
                ),
            )
        ],
    }.get(rtype.kind, [])
    if rtype.kind == "CustomResourceDefinition":
        return [name, _column("Created At", lambda o: o["metadata"].get("creationTimestamp"), kind="date")]
    if rtype.kind == "Event":  # kubectl shows events without their (generated) names unless -o wide
        return [*extra, _column("Name", lambda o: o["metadata"]["name"], fmt="name", priority=1)]
    return [name, *extra, created]


def _reader(printer: PrinterColumn) -> Callable[[Obj], Any]:
    return lambda obj: _cell(printer, obj)


def _columns(rtype: ResourceType) -> list[Column]:
    if rtype.custom is None:
        return _builtin_columns(rtype)
    columns = [_column("Name", lambda o: o["metadata"]["name"], description=_NAME_DESCRIPTION, fmt="name")]
    for printer in rtype.custom.printer_columns:
        columns.append(
            _column(
                printer.name,
                _reader(printer),
                kind=printer.type,
                description=printer.description,
                priority=printer.priority,
                fmt=printer.format,
            )
        )
    return columns


def to_table(
    rtype: ResourceType, objects: list[Obj], version: str, include_object: str, resource_version: str | None
) -> Obj:
    columns = _columns(rtype)
    rows = []
    for obj in objects:
        row: Obj = {"cells": [read(obj) for _, read in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": f"meta.k8s.io/{version}",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    metadata = {"resourceVersion": resource_version} if resource_version else {}
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": metadata,
        "columnDefinitions": [definition for definition, _ in columns],
        "rows": rows,
    }
