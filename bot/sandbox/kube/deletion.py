"""DELETE as the apiserver and its garbage collector carry it out: preconditions, propagation
policies (Orphan / Background / Foreground), finalizers, namespaces emptied before they go.

The garbage collector's work happens at once instead of shortly after, so a client sees the
cascade complete when its DELETE returns.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from bot.sandbox.kube.admission import Written
from bot.sandbox.kube.errors import ApiError, invalid
from bot.sandbox.kube.meta import timestamp
from bot.sandbox.kube.resources import CRD_TYPE, NAMESPACE_TYPE, ResourceType, view

if TYPE_CHECKING:
    from bot.sandbox.kube.cluster import Cluster

Obj = dict[str, Any]
JOB_ORPHAN_WARNING = (
    "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove "
    "them or set propagationPolicy=Orphan to suppress this warning"
)


def delete(
    cluster: Cluster,
    rtype: ResourceType,
    namespace: str,
    name: str,
    delete_options: Obj | None,
    propagation_policy: str | None,
    dry_run: bool,
) -> Written:
    delete_options = delete_options or {}
    namespace = namespace if rtype.namespaced else ""
    existing = cluster.store.get(rtype.storage_key, namespace, name)
    if existing is None:
        raise ApiError.not_found(rtype, name)
    _check_preconditions(rtype, existing, delete_options.get("preconditions") or {})
    warnings: list[str] = []
    policy = propagation_policy or delete_options.get("propagationPolicy")
    if policy is None and delete_options.get("orphanDependents") is not None:
        policy = "Orphan" if delete_options["orphanDependents"] else "Background"
    if policy is None:
        policy = "Orphan" if rtype.orphans_dependents_by_default else "Background"
        if rtype.orphans_dependents_by_default:
            warnings.append(JOB_ORPHAN_WARNING)
    if policy not in ("Orphan", "Background", "Foreground"):
        raise ApiError.invalid(
            rtype,
            name,
            [invalid("propagationPolicy", policy, "must be one of Orphan, Background, Foreground")],
        )
    if dry_run:
        return Written(_deleted_answer(rtype, existing), 200, warnings)
    if existing["metadata"].get("deletionTimestamp"):
        return Written(view(rtype, existing), 200, warnings)
    if policy == "Orphan":
        _orphan_dependents(cluster, existing["metadata"]["uid"])
    elif policy == "Foreground":
        _delete_dependents(cluster, existing["metadata"]["uid"], "Foreground")
    if rtype == NAMESPACE_TYPE or existing["metadata"].get("finalizers"):
        # Deletion is requested, not done: the object stays, marked, until its finalizers are gone.
        marked = copy.deepcopy(existing)
        marked["metadata"]["deletionTimestamp"] = timestamp()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        if rtype == NAMESPACE_TYPE:
            marked.setdefault("status", {})["phase"] = "Terminating"
        stored = cluster.store.update(rtype.storage_key, marked)
        if rtype == NAMESPACE_TYPE:
            _empty_namespace(cluster, name)
            if not stored["metadata"].get("finalizers"):
                remove(cluster, rtype, stored, policy)
        return Written(view(rtype, stored), 200, warnings)
    remove(cluster, rtype, existing, policy)
    return Written(_deleted_answer(rtype, existing), 200, warnings)


def _check_preconditions(rtype: ResourceType, existing: Obj, preconditions: Obj) -> None:
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted, actual = preconditions.get(key), existing["metadata"].get(key)
        if wanted and wanted != actual:
            raise ApiError.conflict(
                rtype,
                existing["metadata"]["name"],
                f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}",
            )


def _deleted_answer(rtype: ResourceType, obj: Obj) -> Obj:
    """Most kinds answer a finished DELETE with a Success Status naming the object; a few with it."""
    if rtype.delete_returns_object:
        return view(rtype, obj)
    details: Obj = {"name": obj["metadata"]["name"]}
    if rtype.group:
        details["group"] = rtype.group
    details.update({"kind": rtype.plural, "uid": obj["metadata"]["uid"]})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def remove(cluster: Cluster, rtype: ResourceType, obj: Obj, policy: str) -> None:
    """Take the object out of storage, then let its dependents follow unless they are orphaned."""
    metadata = obj["metadata"]
    if cluster.store.get(rtype.storage_key, metadata.get("namespace", ""), metadata["name"]) is None:
        return
    if rtype == CRD_TYPE:
        cluster.unserve_crd(obj)
    cluster.store.remove(rtype.storage_key, metadata.get("namespace", ""), metadata["name"])
    if policy != "Orphan":
        _delete_dependents(cluster, metadata["uid"], "Background")


def _delete_dependents(cluster: Cluster, owner_uid: str, policy: str) -> None:
    for key, namespace, name in cluster.store.dependents_of(owner_uid):
        dependent_type = cluster.registry.by_storage_key(key)
        if dependent_type is not None and cluster.store.get(key, namespace, name) is not None:
            delete(cluster, dependent_type, namespace, name, None, policy, False)


def _orphan_dependents(cluster: Cluster, owner_uid: str) -> None:
    for key, namespace, name in cluster.store.dependents_of(owner_uid):
        dependent = copy.deepcopy(cluster.store.get(key, namespace, name))
        if dependent is None:
            continue
        owners = [o for o in dependent["metadata"].get("ownerReferences") or [] if o.get("uid") != owner_uid]
        if owners:
            dependent["metadata"]["ownerReferences"] = owners
        else:
            dependent["metadata"].pop("ownerReferences", None)
        cluster.store.update(key, dependent)


def _empty_namespace(cluster: Cluster, namespace: str) -> None:
    for key, obj in cluster.store.objects_in_namespace(namespace):
        rtype = cluster.registry.by_storage_key(key)
        if rtype is not None and cluster.store.get(key, namespace, obj["metadata"]["name"]) is not None:
            remove(cluster, rtype, obj, "Background")
