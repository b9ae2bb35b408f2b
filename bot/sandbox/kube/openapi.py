"""A minimal /openapi/v3: enough for kubectl to learn that every kind accepts `fieldValidation`.

kubectl's default `--validate=strict` asks /openapi/v3 whether the server validates fields itself;
when it does, kubectl sends `fieldValidation=Strict` and skips client-side validation (which would
need /openapi/v2 as protobuf). The documents hold paths and their PATCH operations, no schemas.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.sandbox.kube.resources import ResourceRegistry, ResourceType

Obj = dict[str, Any]

_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "fieldValidation instructs the server on how to handle objects in the request containing "
    "unknown or duplicate fields: Ignore, Warn or Strict.",
    "schema": {"type": "string", "uniqueItems": True},
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _item_path(rtype: ResourceType) -> str:
    base = f"/{_gv_path(rtype.group, rtype.version)}"
    if rtype.namespaced:
        base += "/namespaces/{namespace}"
    return f"{base}/{rtype.plural}/{{name}}"


def group_version_document(registry: ResourceRegistry, group: str, version: str) -> Obj | None:
    types = [t for t in registry.all_types() if t.group == group and t.version == version]
    if not types:
        return None
    paths: Obj = {}
    for rtype in types:
        if "patch" not in rtype.verbs:
            continue
        gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        operation = {
            "operationId": f"patch{rtype.kind}",
            "parameters": [_FIELD_VALIDATION],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }
        paths[_item_path(rtype)] = {"patch": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def index_document(registry: ResourceRegistry) -> Obj:
    paths: Obj = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            document = group_version_document(registry, group, version)
            digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
