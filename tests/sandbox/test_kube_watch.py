"""Watches through kubernetes_asyncio's watch.Watch: events, resuming, 410 Expired, selectors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from bot.sandbox.kube import LocalKubeAPI
from tests.sandbox.kube_fixtures import GROUP, TEST_CODERUN_CRD, VERSION, api_client_for, coderun, load_yaml

MERGE = "application/merge-patch+json"


def configmap(name: str, value: str = "1", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"v": value}}


async def collect(stream: watch.Watch, count: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    async with stream:
        async for event in stream:
            obj = event["object"]
            name = obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name
            seen.append((event["type"], name))
            if len(seen) == count:
                break
    return seen


async def test_watch_sees_existing_objects_then_changes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", configmap("before"))
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=5)
    watching = asyncio.create_task(collect(stream, 4))
    await asyncio.sleep(0.05)
    await core.create_namespaced_config_map("default", configmap("after"))
    await core.patch_namespaced_config_map("after", "default", {"data": {"v": "2"}})
    await core.delete_namespaced_config_map("after", "default")
    assert await watching == [
        ("ADDED", "before"),
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "after"),
    ]


async def test_custom_resource_watch(api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(TEST_CODERUN_CRD))
    runs = client.CustomObjectsApi(api)
    stream = watch.Watch().stream(
        runs.list_namespaced_custom_object, GROUP, VERSION, "default", "coderuns", timeout_seconds=5
    )
    watching = asyncio.create_task(collect(stream, 2))
    await asyncio.sleep(0.05)
    await runs.create_namespaced_custom_object(GROUP, VERSION, "default", "coderuns", coderun("run-1"))
    await runs.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", "coderuns", "run-1", {"status": {"phase": "Running"}}, _content_type=MERGE
    )
    assert await watching == [("ADDED", "run-1"), ("MODIFIED", "run-1")]


async def test_watch_resumes_after_a_resource_version(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = await core.create_namespaced_config_map("default", configmap("one"))
    await core.create_namespaced_config_map("default", configmap("two"))
    await core.patch_namespaced_config_map("one", "default", {"data": {"v": "2"}})
    stream = watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=first.metadata.resource_version,
        timeout_seconds=5,
    )
    assert await collect(stream, 2) == [("ADDED", "two"), ("MODIFIED", "one")]


async def test_watch_from_a_compacted_resource_version_is_410() -> None:
    async with LocalKubeAPI(watch_history=3) as kube, await api_client_for(kube) as api:
        core = client.CoreV1Api(api)
        first = await core.create_namespaced_config_map("default", configmap("one"))
        for value in "2345":
            await core.patch_namespaced_config_map("one", "default", {"data": {"v": value}})
        stream = watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=5,
        )
        with pytest.raises(ApiException) as raised:
            await collect(stream, 1)
    assert raised.value.status == 410
    assert raised.value.reason.startswith("Expired: too old resource version")


async def test_forced_compaction_expires_old_resource_versions(
    kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    first = await core.create_namespaced_config_map("default", configmap("one"))
    await core.create_namespaced_config_map("default", configmap("two"))
    kube.faults.compact_history()
    stream = watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=first.metadata.resource_version,
        timeout_seconds=5,
    )
    with pytest.raises(ApiException) as raised:
        await collect(stream, 1)
    assert raised.value.status == 410


async def test_label_selector_turns_changes_into_added_and_deleted(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", configmap("run", labels={"phase": "queued"}))
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, "default", label_selector="phase=running", timeout_seconds=5
    )
    watching = asyncio.create_task(collect(stream, 2))
    await asyncio.sleep(0.05)
    await core.patch_namespaced_config_map("run", "default", {"metadata": {"labels": {"phase": "running"}}})
    await core.patch_namespaced_config_map("run", "default", {"metadata": {"labels": {"phase": "done"}}})
    assert await watching == [("ADDED", "run"), ("DELETED", "run")]


async def test_watch_ends_after_timeout_seconds(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1)
    started = asyncio.get_running_loop().time()
    assert await collect(stream, 1) == []
    assert asyncio.get_running_loop().time() - started < 3


async def test_cut_watch_stream_ends_early(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for name in ("a", "b", "c"):
        await core.create_namespaced_config_map("default", configmap(name))
    kube.faults.cut_watch(after_events=2)
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=5)
    assert await collect(stream, 3) == [("ADDED", "a"), ("ADDED", "b")]
