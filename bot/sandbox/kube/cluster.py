"""The apiserver's semantics over the store: create, read, replace, patch, delete with cascades.

Every method takes plain dicts and raises `ApiError` as the apiserver would answer; HTTP lives in
server.py. The Job simulator and `LocalKubeAPI.apply_manifest` call these methods directly.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from bot.sandbox.kube import crds, defaults, deletion
from bot.sandbox.kube.admission import WriteOptions, Written, admit
from bot.sandbox.kube.errors import ApiError, invalid
from bot.sandbox.kube.meta import random_suffix, timestamp
from bot.sandbox.kube.patches import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from bot.sandbox.kube.resources import (
    CRD_TYPE,
    NAMESPACE_TYPE,
    SERVICE_ACCOUNT_TYPE,
    ResourceRegistry,
    ResourceType,
    view,
)
from bot.sandbox.kube.schemas import kind_schema
from bot.sandbox.kube.selectors import FieldRequirement, Requirement, fields_match, labels_match
from bot.sandbox.kube.store import Store

Obj = dict[str, Any]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_IMMUTABLE_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


def spec_changed(rtype: ResourceType, new: Obj, old: Obj) -> bool:
    ignored = {"metadata", "status"} if rtype.status_subresource else {"metadata"}
    return {k: v for k, v in new.items() if k not in ignored} != {
        k: v for k, v in old.items() if k not in ignored
    }


class Cluster:
    def __init__(self, store: Store, registry: ResourceRegistry) -> None:
        self.store = store
        self.registry = registry
        for name in SYSTEM_NAMESPACES:
            self.create(NAMESPACE_TYPE, "", {"metadata": {"name": name}})

    # Reads

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        found = self.store.get(rtype.storage_key, namespace if rtype.namespaced else "", name)
        if found is None:
            raise ApiError.not_found(rtype, name)
        return view(rtype, found)

    def select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: tuple[Requirement, ...] = (),
        fields: tuple[FieldRequirement, ...] = (),
    ) -> list[Obj]:
        """The objects a list returns, each as a GET would show it."""
        return [
            view(rtype, obj)
            for obj in self.store.list_objects(rtype.storage_key, namespace)
            if labels_match(labels, obj) and fields_match(fields, obj)
        ]

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: tuple[Requirement, ...] = (),
        fields: tuple[FieldRequirement, ...] = (),
    ) -> Obj:
        items = [view(rtype, obj, in_list=True) for obj in self.select(rtype, namespace, labels, fields)]
        return {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": items,
        }

    # Create

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: Any,
        options: WriteOptions | None = None,
        *,
        keep_status: bool = False,
    ) -> Written:
        """POST. `keep_status` is for the cluster's own controllers (the Job simulator creating Pods)."""
        options = options or WriteOptions()
        obj = self._decode(rtype, body)
        metadata = obj["metadata"]
        self._place(rtype, namespace, obj)
        if rtype.namespaced:
            self._require_namespace(metadata["namespace"])
        if metadata.get("resourceVersion"):
            # The apiserver answers this with a bare 500 (no reason), as etcd storage reports it.
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = self._generated_name(
                rtype, metadata["namespace"] if rtype.namespaced else "", metadata["generateName"]
            )
        for system_field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
            metadata.pop(system_field, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = timestamp()
        if rtype.tracks_generation:
            metadata["generation"] = 1
        else:
            metadata.pop("generation", None)
        if rtype.status_subresource and not keep_status:
            obj.pop("status", None)
        warnings = admit(rtype, obj, None, options)
        metadata = obj["metadata"]  # decoding may have rebuilt it
        if not keep_status:
            defaults.prepare_for_create(rtype, obj)
        if rtype == CRD_TYPE:
            obj["status"] = crds.crd_status(obj, None)
        key = (metadata.get("namespace", ""), metadata["name"])
        if self.store.get(rtype.storage_key, *key) is not None:
            raise ApiError.already_exists(rtype, metadata["name"])
        if options.dry_run:
            return Written(view(rtype, obj), 201, warnings)
        stored = self.store.create(rtype.storage_key, obj)
        if rtype == CRD_TYPE:
            self._serve_crd(stored)
        if rtype == NAMESPACE_TYPE:
            # What the service account controller does for every new namespace.
            self.create(SERVICE_ACCOUNT_TYPE, metadata["name"], {"metadata": {"name": "default"}})
        return Written(view(rtype, stored), 201, warnings)

    def _decode(self, rtype: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError.bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                "json: cannot unmarshal into Go value of type struct"
            )
        obj = copy.deepcopy(body)
        if obj.get("apiVersion") not in (None, "", rtype.api_version):
            raise ApiError.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected API version "
                f"({rtype.api_version})"
            )
        if obj.get("kind") not in (None, "", rtype.kind):
            raise ApiError.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({rtype.kind})"
            )
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError.bad_request(f"{rtype.kind}.metadata must be an object")
        return obj

    def _place(self, rtype: ResourceType, namespace: str, obj: Obj) -> None:
        metadata = obj["metadata"]
        if not rtype.namespaced:
            metadata.pop("namespace", None)
            return
        if metadata.get("namespace") and namespace and metadata["namespace"] != namespace:
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        metadata["namespace"] = metadata.get("namespace") or namespace

    def _require_namespace(self, namespace: str) -> None:
        if not namespace:
            return
        found = self.store.get(NAMESPACE_TYPE.storage_key, "", namespace)
        if found is None:
            raise ApiError.namespace_not_found(namespace)
        if found["metadata"].get("deletionTimestamp"):
            raise ApiError.forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {"name": namespace, "kind": "namespaces"},
            )

    def _generated_name(self, rtype: ResourceType, namespace: str, prefix: str) -> str:
        prefix = prefix[: 63 - 5] if rtype.kind in ("Job", "Namespace", "Service") else prefix[: 253 - 5]
        while True:
            candidate = prefix + random_suffix()
            if self.store.get(rtype.storage_key, namespace, candidate) is None:
                return candidate

    # Replace and patch

    def replace(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        options: WriteOptions | None = None,
        *,
        subresource: str = "",
    ) -> Written:
        options = options or WriteOptions()
        obj = self._decode(rtype, body)
        if obj["metadata"].get("name") not in (None, "", name):
            raise ApiError.bad_request(
                f"the name of the object ({obj['metadata']['name']}) does not match the name on the URL ({name})"
            )
        obj["metadata"]["name"] = name
        self._place(rtype, namespace, obj)
        existing = self.store.get(rtype.storage_key, namespace if rtype.namespaced else "", name)
        if existing is None:
            if rtype.create_on_update and not subresource:
                obj["metadata"].pop("resourceVersion", None)
                return self.create(rtype, namespace, obj, options)
            raise ApiError.not_found(rtype, name)
        sent_version = obj["metadata"].get("resourceVersion")
        if not sent_version and not rtype.unconditional_update:
            raise ApiError.invalid(
                rtype, name, [invalid("metadata.resourceVersion", "0x0", "must be specified for an update")]
            )
        if sent_version and sent_version != existing["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rtype, name)
        return self._update(rtype, existing, obj, options, subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        options: WriteOptions | None = None,
        *,
        subresource: str = "",
    ) -> Written:
        options = options or WriteOptions()
        existing = self.store.get(rtype.storage_key, namespace if rtype.namespaced else "", name)
        if content_type == "application/apply-patch+yaml":
            if not options.field_manager:
                raise ApiError.bad_request(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch"
                )
            if existing is None and not subresource:
                return self.create(rtype, namespace, patch, options)
            content_type = (
                "application/merge-patch+json"
                if rtype.is_custom
                else "application/strategic-merge-patch+json"
            )
        if existing is None:
            raise ApiError.not_found(rtype, name)
        current = view(rtype, existing)
        if content_type == "application/json-patch+json":
            patched = apply_json_patch(current, patch)
        elif content_type == "application/merge-patch+json":
            patched = apply_merge_patch(current, patch)
        elif content_type == "application/strategic-merge-patch+json" and not rtype.is_custom:
            patched = apply_strategic_merge_patch(current, patch, kind_schema(rtype.kind, rtype.api_version))
        else:
            accepted = [
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
            if not rtype.is_custom:
                accepted.insert(2, "application/strategic-merge-patch+json")
            raise ApiError.unsupported_media_type(content_type, accepted)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise ApiError.bad_request("the patch produced an object without metadata")
        if patched["metadata"].get("resourceVersion") not in (None, existing["metadata"]["resourceVersion"]):
            raise ApiError.conflict(rtype, name)
        if patched["metadata"].get("name") != name:
            raise ApiError.bad_request(
                f"the name of the object ({patched['metadata'].get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        obj = self._decode(rtype, patched)
        return self._update(rtype, existing, obj, options, subresource)

    def _update(
        self, rtype: ResourceType, existing: Obj, obj: Obj, options: WriteOptions, subresource: str
    ) -> Written:
        if subresource == "status":
            status = obj.get("status")
            obj = copy.deepcopy(existing)
            obj["apiVersion"] = rtype.api_version
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
        elif rtype.status_subresource:
            defaults.keep_status(obj, existing)
        metadata, old_metadata = obj["metadata"], existing["metadata"]
        for kept in _IMMUTABLE_META:
            if kept in old_metadata:
                metadata[kept] = old_metadata[kept]
            else:
                metadata.pop(kept, None)
        metadata.pop("managedFields", None)
        warnings = admit(rtype, obj, existing, options)
        metadata = obj["metadata"]  # decoding may have rebuilt it
        if rtype == CRD_TYPE:
            obj["status"] = crds.crd_status(obj, existing.get("status"))
        if rtype.tracks_generation and spec_changed(rtype, obj, existing):
            metadata["generation"] = int(old_metadata.get("generation", 1)) + 1
        metadata["resourceVersion"] = old_metadata["resourceVersion"]
        if obj == existing:
            return Written(view(rtype, existing), 200, warnings)  # a no-op write neither bumps nor notifies
        if options.dry_run:
            return Written(view(rtype, obj), 200, warnings)
        stored = self.store.update(rtype.storage_key, obj)
        if rtype == CRD_TYPE:
            self._serve_crd(stored)
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            deletion.remove(self, rtype, stored, "Background")  # the last finalizer is gone
        return Written(view(rtype, stored), 200, warnings)

    # Delete (the flows and the garbage collector's cascades live in deletion.py)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        delete_options: Obj | None = None,
        propagation_policy: str | None = None,
        dry_run: bool = False,
    ) -> Written:
        return deletion.delete(self, rtype, namespace, name, delete_options, propagation_policy, dry_run)

    # CRDs: serving the kinds they define

    def _serve_crd(self, crd: Obj) -> None:
        self.registry.register_custom(crd["metadata"]["name"], crds.custom_types(crd))

    def unserve_crd(self, crd: Obj) -> None:
        """A CRD is going away: so do its custom resources, and its kinds from discovery."""
        for rtype in self.registry.custom_types_of(crd["metadata"]["name"])[:1]:
            for obj in self.store.list_objects(rtype.storage_key):
                deletion.remove(self, rtype, obj, "Background")
        self.registry.unregister_custom(crd["metadata"]["name"])

    # Helpers for the cluster's own controllers

    def update_status(
        self, rtype: ResourceType, namespace: str, name: str, change: Callable[[Obj], None]
    ) -> Obj | None:
        """Read-modify-write of status as a controller does it; None when the object is gone."""
        existing = self.store.get(rtype.storage_key, namespace, name)
        if existing is None:
            return None
        obj = copy.deepcopy(existing)
        status = obj.setdefault("status", {})
        change(status)
        return self.replace(rtype, namespace, name, obj, subresource="status").body
