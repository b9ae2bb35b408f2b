"""Installing: every rendered object and every manifest in k8s/ is accepted by a fresh local Kubernetes
API (which validates built-ins as Kubernetes 1.33 does, and custom resources against their CRDs), and
the controller works from what the chart installs: its task-controller-config and its templates
ConfigMap, mounted the way the kubelet mounts it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.core.taskconfig import CONFIGMAP_NAME
from bot.sandbox.kube import LocalKubeAPI
from bot.sandbox.stack import running_stack

from .conftest import NAMESPACE, ROOT, Obj, find, generate_deploy, render, rendered
from .flows import PR, succeed
from .test_chart import KUBERNETES_VERSION, mount_configmap

SERVICE_MONITOR_CRD = Path(__file__).with_name("servicemonitor-crd.yaml")
K8S = ROOT / "k8s"


def in_install_order(objects: list[Obj]) -> list[Obj]:
    """Helm's order for the chart's kinds; custom resources of other charts' CRDs last."""
    order: tuple[str, ...] = generate_deploy().INSTALL_ORDER
    return sorted(objects, key=lambda o: order.index(o["kind"]) if o["kind"] in order else len(order))


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@pytest.mark.parametrize("which", ["default", "all"])
async def test_every_rendered_object_applies_to_a_fresh_cluster(which: str) -> None:
    objects = rendered(which)
    # `helm install --create-namespace` makes the release namespace; a separate run namespace must exist.
    namespaces = {o["metadata"]["namespace"] for o in objects if "namespace" in o["metadata"]}
    async with LocalKubeAPI() as kube:
        for name in sorted(namespaces):
            kube.apply_manifest(namespace(name))
        if any(o["kind"] == "ServiceMonitor" for o in objects):
            kube.apply_file(SERVICE_MONITOR_CRD)
        for obj in in_install_order(objects):
            stored = kube.apply_manifest(obj)
            assert stored["metadata"]["name"] == obj["metadata"]["name"]
            if obj["kind"] == "ServiceMonitor":
                assert stored["spec"] == obj["spec"], "the ServiceMonitor CRD pruned a field the chart sets"


def k8s_documents(*patterns: str) -> list[Obj]:
    documents: list[Obj] = []
    for pattern in patterns:
        for path in sorted(K8S.glob(pattern)):
            documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def test_every_k8s_manifest_of_a_builtin_kind_passes_kubernetes_validate_strict() -> None:
    documents = k8s_documents("**/*.yaml")
    custom = [d for d in documents if d["apiVersion"].startswith("orchestrator.platform/")]
    assert custom, "the examples are custom resources: applied against their CRDs below"
    for document in documents:
        if document not in custom:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


async def test_the_k8s_manifests_apply_in_the_documented_order() -> None:
    """kubectl apply -f k8s/crds/ -f k8s/deploy/, then the job settings and the example runs."""
    async with LocalKubeAPI() as kube:
        for document in k8s_documents(
            "crds/*.yaml", "deploy/*.yaml", "task-controller-config.yaml", "examples/*.yaml"
        ):
            kube.apply_manifest(document)


def test_k8s_deploy_is_the_chart_with_its_default_values() -> None:
    from_file = k8s_documents("deploy/*.yaml")
    assert from_file == generate_deploy().plain_objects()
    # What the plain manifests leave to k8s/crds/ and k8s/task-controller-config.yaml.
    left_out = {(o["kind"], o["metadata"]["name"]) for o in rendered("default")} - {
        (o["kind"], o["metadata"]["name"]) for o in from_file
    }
    assert left_out == {
        ("CustomResourceDefinition", "coderuns.orchestrator.platform"),
        ("CustomResourceDefinition", "docsruns.orchestrator.platform"),
        ("ConfigMap", CONFIGMAP_NAME),
        ("Secret", "orchestrator-bot-store"),  # the operator's (README: Deploy)
    }
    assert not any("helm.sh/chart" in (o["metadata"].get("labels") or {}) for o in from_file)


async def test_the_controller_works_from_the_rendered_config_and_templates_configmap(
    chart_copy: Path, tmp_path: Path
) -> None:
    # A marked template and job settings unlike the repository's, so the run shows where its came from.
    prompt = chart_copy / "files" / "templates" / "code" / "prompt.md.j2"
    prompt.write_text(prompt.read_text() + "\nFrom the chart's templates ConfigMap.\n")
    values = {"taskConfig": {"job": {"activeDeadlineSeconds": 1234}, "agent": {"image": {"tag": "9.9.9"}}}}
    objects = render(values, chart_copy)
    templates = mount_configmap(find(objects, "ConfigMap", suffix="-templates"), tmp_path / "templates")

    async with running_stack(controller=False) as stack:
        for obj in in_install_order(objects):
            stack.kube.apply_manifest(obj)
        assert stack.controller_options is not None
        stack.controller_options.templates_dir = templates
        stack.start_controller()
        run = await succeed(stack, PR, "/code 5 --service trader", pr=True)
        name = run["metadata"]["name"]
        job = await read(stack, f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}")
        files = await read(stack, f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}-files")

    assert job["spec"]["activeDeadlineSeconds"] == 1234
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9.9")
    assert "From the chart's templates ConfigMap." in files["data"]["prompt.md"]


async def read(stack: Any, path: str) -> Obj:
    async with stack.session.get(stack.kube.url + path) as response:
        assert response.status == 200, path
        body: Obj = await response.json()
    return body
