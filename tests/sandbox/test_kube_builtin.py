"""Built-in kinds through kubernetes_asyncio: CRUD, conflicts, selectors, patches, strict validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.sandbox.kube_fixtures import job


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def configmap(
    name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data or {"a": "1"},
    }


async def test_create_assigns_server_fields(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await core.create_namespaced_config_map("default", configmap("settings"))
    again = await core.read_namespaced_config_map("settings", "default")
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert again.metadata.resource_version == created.metadata.resource_version
    later = await core.create_namespaced_config_map("default", configmap("other"))
    assert int(later.metadata.resource_version) > int(created.metadata.resource_version)


async def test_duplicate_create_is_409_already_exists(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", configmap("settings"))
    with pytest.raises(ApiException) as raised:
        await core.create_namespaced_config_map("default", configmap("settings"))
    assert raised.value.status == 409
    assert status_of(raised.value) | {"details": None} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "settings" already exists',
        "reason": "AlreadyExists",
        "details": None,
        "code": 409,
    }


async def test_missing_object_is_404_not_found(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await client.BatchV1Api(api).read_namespaced_job("absent", "default")
    assert raised.value.status == 404
    assert status_of(raised.value)["message"] == 'jobs.batch "absent" not found'


async def test_create_in_a_missing_namespace_is_404(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await client.CoreV1Api(api).create_namespaced_config_map("nowhere", configmap("settings"))
    assert raised.value.status == 404
    assert status_of(raised.value)["message"] == 'namespaces "nowhere" not found'


async def test_generate_name_gets_a_random_suffix(api: client.ApiClient) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "run-"}
    created = await client.CoreV1Api(api).create_namespaced_config_map("default", body)
    assert created.metadata.name.startswith("run-") and len(created.metadata.name) == len("run-") + 5


async def test_job_without_containers_is_422(api: client.ApiClient) -> None:
    body = job("no-containers")
    del body["spec"]["template"]["spec"]["containers"]
    with pytest.raises(ApiException) as raised:
        await client.BatchV1Api(api).create_namespaced_job("default", body)
    assert raised.value.status == 422
    status = status_of(raised.value)
    assert status["reason"] == "Invalid"
    assert (
        status["message"]
        == 'Job.batch "no-containers" is invalid: spec.template.spec.containers: Required value'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.template.spec.containers",
        }
    ]


async def test_configmap_key_with_a_slash_is_422(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await client.CoreV1Api(api).create_namespaced_config_map(
            "default", configmap("bad", {"hooks/stop.sh": "x"})
        )
    assert raised.value.status == 422
    assert status_of(raised.value)["details"]["causes"][0]["field"] == "data[hooks/stop.sh]"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(
            {"restartPolicy": "Always"}, "spec.template.spec.restartPolicy", id="restartPolicy Always"
        ),
        pytest.param(
            {"containers": [{"name": "agent"}]}, "spec.template.spec.containers[0].image", id="no image"
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "agent", "image": "x", "volumeMounts": [{"name": "ssh", "mountPath": "/ssh"}]}
                ]
            },
            "spec.template.spec.containers[0].volumeMounts[0].name",
            id="mount of an unknown volume",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "agent",
                        "image": "x",
                        "resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "2"}},
                    }
                ]
            },
            "spec.template.spec.containers[0].resources.requests",
            id="request above limit",
        ),
        pytest.param(
            {"volumes": [{"name": "ssh", "secret": {"secretName": "s", "defaultMode": 1000}}]},
            "spec.template.spec.volumes[0].secret.defaultMode",
            id="mode above 0777",
        ),
    ],
)
async def test_job_template_rules_are_422(api: client.ApiClient, change: dict[str, Any], field: str) -> None:
    body = job("bad")
    body["spec"]["template"]["spec"].update(change)
    with pytest.raises(ApiException) as raised:
        await client.BatchV1Api(api).create_namespaced_job("default", body)
    assert raised.value.status == 422
    assert field in [cause["field"] for cause in status_of(raised.value)["details"]["causes"]]


async def test_unknown_field_of_a_builtin_is_rejected(api: client.ApiClient) -> None:
    body = job("typo")
    body["spec"]["backoff_limit"] = 0
    with pytest.raises(ApiException) as raised:
        await client.BatchV1Api(api).create_namespaced_job("default", body)
    assert raised.value.status == 400
    assert status_of(raised.value)["message"] == 'strict decoding error: unknown field "spec.backoff_limit"'


async def test_name_must_be_a_dns_subdomain(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await client.CoreV1Api(api).create_namespaced_config_map("default", configmap("Not_Valid"))
    assert raised.value.status == 422
    assert status_of(raised.value)["details"]["causes"][0]["field"] == "metadata.name"


async def test_job_gets_the_controller_selector_and_defaults(api: client.ApiClient) -> None:
    created = await client.BatchV1Api(api).create_namespaced_job("default", job("agent"))
    labels = created.spec.template.metadata.labels
    assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "agent"
    assert labels["controller-uid"] == created.metadata.uid
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": created.metadata.uid}
    container = created.spec.template.spec.containers[0]
    assert container.termination_message_path == "/dev/termination-log"
    assert created.status.active is None


async def test_secret_string_data_becomes_base64_data(api: client.ApiClient) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "github-ssh-alice"},
        "type": "kubernetes.io/ssh-auth",
        "stringData": {"ssh-privatekey": "KEY"},
    }
    created = await client.CoreV1Api(api).create_namespaced_secret("default", body)
    assert created.data == {"ssh-privatekey": "S0VZ"}
    assert created.string_data is None


async def test_replace_with_a_stale_resource_version_is_409(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = await core.create_namespaced_config_map("default", configmap("settings"))
    first.data = {"a": "2"}
    await core.replace_namespaced_config_map("settings", "default", first)
    first.data = {"a": "3"}
    with pytest.raises(ApiException) as raised:
        await core.replace_namespaced_config_map("settings", "default", first)
    assert raised.value.status == 409
    assert status_of(raised.value)["reason"] == "Conflict"


async def test_noop_replace_keeps_the_resource_version(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await core.create_namespaced_config_map("default", configmap("settings"))
    same = await core.replace_namespaced_config_map("settings", "default", created)
    assert same.metadata.resource_version == created.metadata.resource_version


async def test_merge_json_and_strategic_patches(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", configmap("settings", {"a": "1", "b": "2"}))
    merged = await core.patch_namespaced_config_map(
        "settings", "default", {"data": {"b": None, "c": "3"}}, _content_type="application/merge-patch+json"
    )
    assert merged.data == {"a": "1", "c": "3"}
    patched = await core.patch_namespaced_config_map(
        "settings",
        "default",
        [
            {"op": "replace", "path": "/data/a", "value": "9"},
            {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}},
        ],
    )
    assert patched.data == {"a": "9", "c": "3"} and patched.metadata.labels == {"k": "v"}
    strategic = await core.patch_namespaced_config_map("settings", "default", {"data": {"d": "4"}})
    assert strategic.data == {"a": "9", "c": "3", "d": "4"}


async def test_strategic_merge_patch_merges_containers_by_name(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bot"},
        "spec": {
            "selector": {"matchLabels": {"app": "bot"}},
            "template": {
                "metadata": {"labels": {"app": "bot"}},
                "spec": {
                    "containers": [{"name": "bot", "image": "bot:1"}, {"name": "proxy", "image": "proxy:1"}]
                },
            },
        },
    }
    await apps.create_namespaced_deployment("default", deployment)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "bot", "image": "bot:2"}]}}}}
    patched = await apps.patch_namespaced_deployment("bot", "default", patch)
    assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [
        ("bot", "bot:2"),
        ("proxy", "proxy:1"),
    ]
    assert patched.metadata.generation == 2


async def test_failing_json_patch_test_is_rejected(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_config_map("default", configmap("settings"))
    with pytest.raises(ApiException) as raised:
        await core.patch_namespaced_config_map(
            "settings", "default", [{"op": "test", "path": "/data/a", "value": "0"}]
        )
    assert raised.value.status == 422


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=bot", ["a", "b"]),
        ("app==bot,tier=web", ["a"]),
        ("app!=bot", ["c", "d"]),
        ("tier in (web,worker)", ["a", "b", "c"]),
        ("tier notin (web)", ["b", "c", "d"]),
        ("tier", ["a", "b", "c"]),
        ("!tier", ["d"]),
    ],
)
async def test_label_selectors(api: client.ApiClient, selector: str, expected: list[str]) -> None:
    core = client.CoreV1Api(api)
    for name, labels in {
        "a": {"app": "bot", "tier": "web"},
        "b": {"app": "bot", "tier": "worker"},
        "c": {"app": "other", "tier": "worker"},
        "d": {},
    }.items():
        await core.create_namespaced_config_map("default", configmap(name, labels=labels))
    listed = await core.list_namespaced_config_map("default", label_selector=selector)
    assert [item.metadata.name for item in listed.items] == expected


async def test_field_selector_on_name_and_list_across_namespaces(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": "runs"}})
    await core.create_namespaced_config_map("default", configmap("a"))
    await core.create_namespaced_config_map("runs", configmap("a"))
    await core.create_namespaced_config_map("runs", configmap("b"))
    everywhere = await core.list_config_map_for_all_namespaces(field_selector="metadata.name=a")
    assert sorted(item.metadata.namespace for item in everywhere.items) == ["default", "runs"]
    assert int(everywhere.metadata.resource_version) >= 1


async def test_malformed_label_selector_is_400(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await client.CoreV1Api(api).list_namespaced_config_map("default", label_selector="a in b")
    assert raised.value.status == 400


async def test_lease_round_trip(api: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api)
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "controller"},
        "spec": {
            "holderIdentity": "pod-a",
            "leaseDurationSeconds": 15,
            "renewTime": "2025-01-01T00:00:00.000000Z",
        },
    }
    created = await leases.create_namespaced_lease("default", lease)
    created.spec.holder_identity = "pod-b"
    replaced = await leases.replace_namespaced_lease("controller", "default", created)
    assert replaced.spec.holder_identity == "pod-b"
    with pytest.raises(ApiException) as raised:
        await leases.replace_namespaced_lease("controller", "default", created)
    assert raised.value.status == 409
