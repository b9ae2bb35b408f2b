"""Stopping and restarting the local API, fault injection and the request log."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from bot.sandbox.kube import ApiError, LocalKubeAPI
from tests.sandbox.kube_fixtures import GROUP, TEST_CODERUN_CRD, VERSION, coderun, load_yaml

MERGE = "application/merge-patch+json"


async def test_stop_refuses_connections_and_start_resumes_with_state(
    kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}})
    port = kube.port
    await kube.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await core.read_namespaced_config_map("kept", "default")
    await kube.start()
    assert kube.port == port
    kept = await core.read_namespaced_config_map("kept", "default")
    assert kept.metadata.name == "kept"


async def test_kubeconfig_is_written_where_asked(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "sandbox.kubeconfig"
    async with LocalKubeAPI(kubeconfig_path=target) as kube:
        assert kube.kubeconfig_path == target
        assert kube.url in target.read_text()
    assert target.exists()


async def test_injected_failures_answer_with_a_status(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(TEST_CODERUN_CRD))
    runs = client.CustomObjectsApi(api)
    kube.faults.fail(method="POST", path_contains="/coderuns", status=500, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as raised:
            await runs.create_namespaced_custom_object(
                GROUP, VERSION, "default", "coderuns", coderun("run-1")
            )
        assert raised.value.status == 500
    created = await runs.create_namespaced_custom_object(
        GROUP, VERSION, "default", "coderuns", coderun("run-1")
    )
    assert created["metadata"]["name"] == "run-1"


async def test_conflict_on_the_next_status_update(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(TEST_CODERUN_CRD))
    runs = client.CustomObjectsApi(api)
    await runs.create_namespaced_custom_object(GROUP, VERSION, "default", "coderuns", coderun("run-1"))
    kube.faults.conflict_on_status_update(times=1)
    with pytest.raises(ApiException) as raised:
        await runs.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            "default",
            "coderuns",
            "run-1",
            {"status": {"phase": "Running"}},
            _content_type=MERGE,
        )
    assert raised.value.status == 409
    patched = await runs.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", "coderuns", "run-1", {"status": {"phase": "Running"}}, _content_type=MERGE
    )
    assert patched["status"]["phase"] == "Running"


async def test_requests_are_recorded_in_rbac_terms(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(TEST_CODERUN_CRD))
    runs = client.CustomObjectsApi(api)
    await runs.create_namespaced_custom_object(GROUP, VERSION, "default", "coderuns", coderun("run-1"))
    await runs.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", "coderuns", "run-1", {"status": {"phase": "Running"}}, _content_type=MERGE
    )
    await runs.list_namespaced_custom_object(GROUP, VERSION, "default", "coderuns")
    seen = {(r.verb, r.group, r.resource, r.subresource, r.status) for r in kube.requests}
    assert seen >= {
        ("create", "apiextensions.k8s.io", "customresourcedefinitions", "", 201),
        ("create", GROUP, "coderuns", "", 201),
        ("patch", GROUP, "coderuns", "status", 200),
        ("list", GROUP, "coderuns", "", 200),
    }


async def test_expired_watch_fault_raises_410_in_the_client(
    kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    kube.faults.expire_watch()
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=2)
    with pytest.raises(ApiException) as raised:
        async with stream:
            async for _ in stream:
                pass
    assert raised.value.status == 410


async def test_apply_file_loads_manifests_through_validation(
    kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    applied = kube.apply_file(TEST_CODERUN_CRD)
    assert [obj["kind"] for obj in applied] == ["CustomResourceDefinition"]
    kube.apply_manifest(coderun("run-1"))
    kube.apply_manifest(coderun("run-1", taskId=8))  # a second apply merges into the object
    run = await client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, "default", "coderuns", "run-1"
    )
    assert run["spec"]["taskId"] == 8
    with pytest.raises(ApiError) as raised:
        kube.apply_manifest(coderun("run-2", taskId="eight"))
    assert raised.value.code == 422
