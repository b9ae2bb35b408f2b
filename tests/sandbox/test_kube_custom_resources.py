"""CRDs and their custom resources through kubernetes_asyncio: discovery, schema validation with
defaults and pruning, status subresource, resourceVersion rules, printer-column Tables."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.sandbox.kube_fixtures import GROUP, VERSION, coderun, coderun_crd_files, load_yaml

PLURAL = "coderuns"
MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


@pytest.fixture(params=coderun_crd_files())
async def runs(
    request: pytest.FixtureRequest, api: client.ApiClient
) -> AsyncIterator[client.CustomObjectsApi]:
    crd_file: Path = request.param
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(load_yaml(crd_file))
    yield client.CustomObjectsApi(api)


async def create(runs: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = await runs.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, body
    )
    return created


def message(error: ApiException) -> str:
    return str(json.loads(error.body)["message"])


async def test_crd_is_established_and_discoverable(
    runs: client.CustomObjectsApi, api: client.ApiClient
) -> None:
    crd = await client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert {c.type: c.status for c in crd.status.conditions} == {
        "NamesAccepted": "True",
        "Established": "True",
    }
    resources = await client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    names = {r.name: r for r in resources.resources}
    assert names[PLURAL].kind == "CodeRun" and names[PLURAL].namespaced
    assert "coderuns/status" in names
    groups = await client.ApisApi(api).get_api_versions()
    assert GROUP in [g.name for g in groups.groups]


async def test_create_get_list(runs: client.CustomObjectsApi) -> None:
    created = await create(runs, coderun("run-1"))
    fetched = await runs.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "run-1")
    listed = await runs.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert fetched == created
    assert created["metadata"]["generation"] == 1
    assert [item["metadata"]["name"] for item in listed["items"]] == ["run-1"]
    assert listed["kind"] == "CodeRunList" and listed["items"][0]["kind"] == "CodeRun"


async def test_duplicate_create_is_409(runs: client.CustomObjectsApi) -> None:
    await create(runs, coderun("run-1"))
    with pytest.raises(ApiException) as raised:
        await create(runs, coderun("run-1"))
    assert raised.value.status == 409
    assert message(raised.value) == 'coderuns.orchestrator.platform "run-1" already exists'


async def test_defaults_are_applied(runs: client.CustomObjectsApi) -> None:
    created = await create(runs, coderun("run-1"))
    assert created["spec"]["contextVersion"] == 1


async def test_unknown_fields_are_pruned_or_rejected_when_strict(runs: client.CustomObjectsApi) -> None:
    created = await create(runs, coderun("run-1", task_id=5))
    assert "task_id" not in created["spec"]
    with pytest.raises(ApiException) as raised:
        await runs.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, coderun("run-2", task_id=5), field_validation="Strict"
        )
    assert raised.value.status == 400
    assert message(raised.value) == 'strict decoding error: unknown field "spec.task_id"'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"taskId": None}, "spec.taskId: Required value", id="taskId missing"),
        pytest.param(
            {"taskId": "5"},
            'spec.taskId: Invalid value: "5": spec.taskId in body must be of type integer: "string"',
            id="taskId a string",
        ),
        pytest.param(
            {"taskId": 0},
            "spec.taskId: Invalid value: 0: spec.taskId in body should be greater than or equal to 1",
            id="taskId zero",
        ),
        pytest.param(
            {"service": "Trader!"},
            'spec.service: Invalid value: "Trader!": spec.service in body should match',
            id="service not a DNS label",
        ),
    ],
)
async def test_schema_violations_are_422(
    runs: client.CustomObjectsApi, spec: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ApiException) as raised:
        await create(runs, coderun("bad", **spec))
    assert raised.value.status == 422
    assert message(raised.value).startswith(f'CodeRun.orchestrator.platform "bad" is invalid: {expected}')
    assert json.loads(raised.value.body)["reason"] == "Invalid"


async def test_status_is_ignored_on_create_and_by_main_resource_writes(runs: client.CustomObjectsApi) -> None:
    body = coderun("run-1")
    body["status"] = {"phase": "Succeeded"}
    created = await create(runs, body)
    assert "status" not in created
    patched = await runs.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "run-1",
        {"spec": {"model": "claude-sonnet-4-20250514"}, "status": {"phase": "Running"}},
        _content_type=MERGE,
    )
    assert patched["spec"]["model"] == "claude-sonnet-4-20250514"
    assert "status" not in patched
    assert patched["metadata"]["generation"] == 2


async def test_status_writes_change_only_status(runs: client.CustomObjectsApi) -> None:
    await create(runs, coderun("run-1"))
    patched = await runs.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "run-1",
        {"status": {"phase": "Running"}, "spec": {"taskId": 99}},
        _content_type=MERGE,
    )
    assert patched["status"] == {"phase": "Running"}
    assert patched["spec"]["taskId"] == 5
    assert patched["metadata"]["generation"] == 1
    patched["status"]["phase"] = "Succeeded"
    replaced = await runs.replace_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "run-1", patched
    )
    assert replaced["status"]["phase"] == "Succeeded"


async def test_status_is_validated(runs: client.CustomObjectsApi) -> None:
    await create(runs, coderun("run-1"))
    with pytest.raises(ApiException) as raised:
        await runs.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "run-1", {"status": {"phase": "Done"}}, _content_type=MERGE
        )
    assert raised.value.status == 422
    assert "status.phase: Unsupported value" in message(raised.value)


async def test_replace_needs_a_current_resource_version(runs: client.CustomObjectsApi) -> None:
    created = await create(runs, coderun("run-1"))
    without = {
        **created,
        "metadata": {k: v for k, v in created["metadata"].items() if k != "resourceVersion"},
    }
    with pytest.raises(ApiException) as raised:
        await runs.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "run-1", without)
    assert raised.value.status == 422
    created["spec"]["taskId"] = 6
    replaced = await runs.replace_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "run-1", created
    )
    assert replaced["spec"]["taskId"] == 6
    with pytest.raises(ApiException) as stale:
        await runs.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "run-1", created)
    assert stale.value.status == 409


async def test_patch_content_types(runs: client.CustomObjectsApi) -> None:
    await create(runs, coderun("run-1"))
    with pytest.raises(ApiException) as as_json_patch:  # a dict sent as JSON patch, the client's default
        await runs.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "run-1", {"spec": {"taskId": 7}}
        )
    assert as_json_patch.value.status == 400
    with pytest.raises(ApiException) as strategic:
        await runs.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "run-1",
            {"spec": {"taskId": 7}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert strategic.value.status == 415
    patched = await runs.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "run-1", [{"op": "replace", "path": "/spec/taskId", "value": 7}]
    )
    assert patched["spec"]["taskId"] == 7


async def test_label_selector_on_custom_resources(runs: client.CustomObjectsApi) -> None:
    for name, user in (("run-1", "alice"), ("run-2", "bob")):
        body = coderun(name)
        body["metadata"]["labels"] = {"github-user": user}
        await create(runs, body)
    listed = await runs.list_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, label_selector="github-user=bob"
    )
    assert [item["metadata"]["name"] for item in listed["items"]] == ["run-2"]


async def test_table_shows_printer_columns(runs: client.CustomObjectsApi, api: client.ApiClient) -> None:
    await create(runs, coderun("run-1", taskId=5, service="trader"))
    await runs.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "run-1",
        {"status": {"phase": "Running", "progress": {"turns": 3, "costUsd": 0.42}}},
        _content_type=MERGE,
    )
    table = await api.call_api(
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}",
        "GET",
        header_params={"Accept": TABLE},
        response_types_map={200: "object"},
        _return_http_data_only=True,
    )
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:5] == ["Name", "Task", "Service", "Model", "Phase"] and "Age" in columns
    cells = dict(zip(columns, table["rows"][0]["cells"], strict=True))
    progress = {"Turns": 3, "Cost": 0.42} if "Turns" in columns else {}  # the real CRD's columns
    assert cells | {"Age": None} == {
        "Name": "run-1",
        "Task": 5,
        "Service": "trader",
        "Model": "claude-opus-4-20250514",
        "Phase": "Running",
        **progress,
        "Age": None,
    }
    assert cells["Age"].endswith("s")


async def test_invalid_crd_is_rejected(api: client.ApiClient) -> None:
    crd = load_yaml(Path(__file__).parent / "fixtures" / "coderuns-crd.yaml")
    crd["metadata"]["name"] = "runs.orchestrator.platform"
    del crd["spec"]["versions"][0]["schema"]
    with pytest.raises(ApiException) as raised:
        await client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    assert raised.value.status == 422
    fields = [c["field"] for c in json.loads(raised.value.body)["details"]["causes"]]
    assert fields == ["metadata.name", "spec.versions[0].schema.openAPIV3Schema"]


async def test_deleting_the_crd_deletes_its_resources(
    runs: client.CustomObjectsApi, api: client.ApiClient
) -> None:
    await create(runs, coderun("run-1"))
    await client.ApiextensionsV1Api(api).delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    with pytest.raises(ApiException) as raised:
        await runs.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert raised.value.status == 404


REAL_CRDS = sorted((Path(__file__).parents[2] / "k8s" / "crds").glob("*.yaml"))


async def test_the_projects_crds_are_accepted_and_served(api: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api)
    for crd_file in REAL_CRDS:
        crd = load_yaml(crd_file)
        created = await extensions.create_custom_resource_definition(crd)
        assert {c.type for c in created.status.conditions} >= {"Established"}, crd_file.name
    resources = await client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    served = {r.name for r in resources.resources}
    assert served >= {load_yaml(f)["spec"]["names"]["plural"] for f in REAL_CRDS}
