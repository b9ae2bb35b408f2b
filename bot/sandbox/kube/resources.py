"""What the server serves: built-in kinds and the kinds that CRDs define, and their discovery documents.

A `ResourceType` says how the apiserver treats one group/version/resource: its scope, whether it
has a status subresource, how delete answers, and what kubectl sees in discovery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class PrinterColumn:
    """One `additionalPrinterColumns` entry of a CRD version (or a built-in Table column)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class CustomKind:
    """What a CRD version adds to a resource type: its schema, printer columns, selectable fields."""

    crd_name: str
    schema: dict[str, Any]
    printer_columns: tuple[PrinterColumn, ...]
    selectable_fields: tuple[str, ...] = ()
    storage_version: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    # metadata.generation is tracked (bumped when anything but metadata/status changes)
    tracks_generation: bool = False
    # The apiserver answers DELETE with the object for these kinds, with a Status for the rest.
    delete_returns_object: bool = False
    # batch/v1 Jobs orphan their Pods unless the client asks for another propagationPolicy.
    orphans_dependents_by_default: bool = False
    create_on_update: bool = False
    # Custom resources must carry metadata.resourceVersion on PUT; most built-ins need not.
    unconditional_update: bool = True
    # What discovery lists; a review (SelfSubjectAccessReview) is only created, never stored.
    verbs: tuple[str, ...] = ALL_VERBS
    custom: CustomKind | None = field(default=None, compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`configmaps` or `coderuns.orchestrator.platform`, as errors name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`ConfigMap` or `Job.batch`, as validation errors name a kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> tuple[str, str]:
        """Objects are stored once per group/resource, whatever version they are read through."""
        return (self.group, self.plural)

    @property
    def is_custom(self) -> bool:
        return self.custom is not None

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        if self.status_subresource:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": list(STATUS_VERBS),
                }
            )
        return entries


def view(rtype: ResourceType, obj: Obj, *, in_list: bool = False) -> Obj:
    """The object as a client reads it through `rtype` (custom resources in the requested version)."""
    if in_list and not rtype.is_custom:
        # Built-in list items carry no apiVersion/kind, as the apiserver's lists do.
        return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if obj.get("apiVersion") != rtype.api_version:
        return {**obj, "apiVersion": rtype.api_version}
    return obj


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
    returns_object: bool = False,
    orphans: bool = False,
    create_on_update: bool = False,
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        status_subresource=status,
        tracks_generation=generation,
        delete_returns_object=returns_object,
        orphans_dependents_by_default=orphans,
        create_on_update=create_on_update,
        verbs=verbs,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin(
        "", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True, returns_object=True
    ),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "pods", "Pod", short=("po",), categories=("all",), status=True, returns_object=True),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin(
        "", "v1", "services", "Service", short=("svc",), categories=("all",), status=True, returns_object=True
    ),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        categories=("all",),
        status=True,
        generation=True,
    ),
    _builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        categories=("all",),
        status=True,
        generation=True,
    ),
    _builtin(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=("all",),
        status=True,
    ),
    _builtin("batch", "v1", "jobs", "Job", categories=("all",), status=True, generation=True, orphans=True),
    _builtin(
        "batch", "v1", "cronjobs", "CronJob", short=("cj",), categories=("all",), status=True, generation=True
    ),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", create_on_update=True),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        status=True,
        generation=True,
    ),
    _builtin(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), status=True, generation=True),
    _builtin(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",), generation=True
    ),
    _builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        status=True,
        generation=True,
    ),
)

CRD_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "CustomResourceDefinition")
NAMESPACE_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "Namespace")
JOB_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "Job")
POD_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "Pod")
SERVICE_ACCOUNT_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "ServiceAccount")
ACCESS_REVIEW_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "SelfSubjectAccessReview")


class ResourceRegistry:
    """The resource types currently served, looked up by path (plural) or by manifest (kind)."""

    def __init__(self) -> None:
        self._builtin: dict[tuple[str, str, str], ResourceType] = {
            (t.group, t.version, t.plural): t for t in BUILTIN_TYPES
        }
        # CRD name -> the types (one per served version) that CRD defines
        self._custom: dict[str, tuple[ResourceType, ...]] = {}

    def _all(self) -> Iterable[ResourceType]:
        yield from self._builtin.values()
        for types in self._custom.values():
            yield from types

    def all_types(self) -> list[ResourceType]:
        return list(self._all())

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        found = self._builtin.get((group, version, plural))
        if found is not None:
            return found
        return next(
            (t for t in self._all() if (t.group, t.version, t.plural) == (group, version, plural)), None
        )

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return next((t for t in self._all() if t.api_version == api_version and t.kind == kind), None)

    def by_storage_key(self, key: tuple[str, str]) -> ResourceType | None:
        """A type that stores objects under `key` (the storage version for custom resources)."""
        candidates = [t for t in self._all() if t.storage_key == key]
        for candidate in candidates:
            if candidate.custom is None or candidate.custom.storage_version == candidate.version:
                return candidate
        return candidates[0] if candidates else None

    def custom_types_of(self, crd_name: str) -> tuple[ResourceType, ...]:
        return self._custom.get(crd_name, ())

    def register_custom(self, crd_name: str, types: tuple[ResourceType, ...]) -> None:
        self._custom[crd_name] = types

    def unregister_custom(self, crd_name: str) -> tuple[ResourceType, ...]:
        return self._custom.pop(crd_name, ())

    # Discovery documents (the legacy, non-aggregated format; kubectl falls back to it).

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, core group ("") included, in registration order."""
        versions: dict[str, list[str]] = {}
        for rtype in self._all():
            served = versions.setdefault(rtype.group, [])
            if rtype.version not in served:
                served.append(rtype.version)
        return versions

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        ordered = sorted(versions, key=_version_priority)
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.group_versions() if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g is not None]}

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        types = [t for t in self._all() if t.group == group and t.version == version]
        if not types:
            return None
        resources: list[dict[str, Any]] = []
        for rtype in sorted(types, key=lambda t: t.plural):
            resources.extend(rtype.discovery_entries())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = int(match[1]), match[2], int(match[3] or 0)
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -major, -minor, version)
