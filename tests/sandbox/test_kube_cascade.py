"""Deletion through kubernetes_asyncio: ownerReference cascades, propagation policies, finalizers,
namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.sandbox.kube_fixtures import GROUP, TEST_CODERUN_CRD, VERSION, coderun, job, load_yaml


def owned_configmap(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    reference = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {"metadata": {"name": name, "ownerReferences": [reference]}, "data": {"a": "1"}}


async def exists(read: Any, *args: Any) -> bool:
    try:
        await read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


async def test_deleting_a_run_deletes_its_configmap_and_job_and_pods(api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(TEST_CODERUN_CRD))
    runs, core, batch = client.CustomObjectsApi(api), client.CoreV1Api(api), client.BatchV1Api(api)
    run = await runs.create_namespaced_custom_object(GROUP, VERSION, "default", "coderuns", coderun("run-1"))
    await core.create_namespaced_config_map("default", owned_configmap("run-1-files", run))
    job_body = job("run-1")
    job_body["metadata"]["ownerReferences"] = owned_configmap("x", run)["metadata"]["ownerReferences"]
    created_job = api.sanitize_for_serialization(await batch.create_namespaced_job("default", job_body))
    created_job |= {"apiVersion": "batch/v1", "kind": "Job"}
    pod = {
        "metadata": {
            "name": "run-1-abcde",
            "ownerReferences": owned_configmap("x", created_job)["metadata"]["ownerReferences"],
        },
        "spec": {"containers": [{"name": "agent", "image": "busybox:1.36"}]},
    }
    await core.create_namespaced_pod("default", pod)

    deleted = await runs.delete_namespaced_custom_object(GROUP, VERSION, "default", "coderuns", "run-1")

    assert deleted["status"] == "Success" and deleted["details"]["uid"] == run["metadata"]["uid"]
    assert not await exists(core.read_namespaced_config_map, "run-1-files", "default")
    assert not await exists(batch.read_namespaced_job, "run-1", "default")
    assert not await exists(core.read_namespaced_pod, "run-1-abcde", "default")


async def test_orphan_policy_keeps_dependents_without_the_owner_reference(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    owner = api.sanitize_for_serialization(
        await core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    )
    owner |= {"apiVersion": "v1", "kind": "ConfigMap"}
    await core.create_namespaced_config_map("default", owned_configmap("dependent", owner))
    await core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    dependent = await core.read_namespaced_config_map("dependent", "default")
    assert dependent.metadata.owner_references is None


async def test_job_deletion_orphans_pods_unless_asked_otherwise(api: client.ApiClient) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    for name in ("kept", "cascaded"):
        created = api.sanitize_for_serialization(await batch.create_namespaced_job("default", job(name)))
        created |= {"apiVersion": "batch/v1", "kind": "Job"}
        pod = owned_configmap(f"{name}-pod", created)
        pod["spec"] = {"containers": [{"name": "agent", "image": "busybox:1.36"}]}
        del pod["data"]
        await core.create_namespaced_pod("default", pod)
    await batch.delete_namespaced_job("kept", "default")
    await batch.delete_namespaced_job("cascaded", "default", propagation_policy="Background")
    assert await exists(core.read_namespaced_pod, "kept-pod", "default")
    assert not await exists(core.read_namespaced_pod, "cascaded-pod", "default")


async def test_finalizers_hold_deletion_until_removed(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["orchestrator.platform/cleanup"]}}
    )
    answer = await core.delete_namespaced_config_map("held", "default")
    assert (
        answer.kind == "ConfigMap"
    )  # the object itself comes back (typed V1Status by the client), not a Status
    marked = await core.read_namespaced_config_map("held", "default")
    assert marked.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as raised:
        await core.patch_namespaced_config_map(
            "held",
            "default",
            {"metadata": {"finalizers": ["a", "b"]}},
            _content_type="application/merge-patch+json",
        )
    assert raised.value.status == 422
    await core.patch_namespaced_config_map(
        "held", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert not await exists(core.read_namespaced_config_map, "held", "default")


async def test_deleting_a_namespace_deletes_its_contents(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": "runs"}})
    await core.create_namespaced_config_map("runs", {"metadata": {"name": "settings"}})
    answer = await core.delete_namespace("runs")
    assert answer.kind == "Namespace"  # the apiserver answers with the Terminating namespace
    assert not await exists(core.read_namespace, "runs")
    assert not await exists(core.read_namespaced_config_map, "settings", "runs")


async def test_delete_with_a_stale_precondition_is_409(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "settings"}})
    with pytest.raises(ApiException) as raised:
        await core.delete_namespaced_config_map(
            "settings", "default", body={"preconditions": {"resourceVersion": "1"}}
        )
    assert raised.value.status == 409
