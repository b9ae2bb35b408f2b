"""`orchestrator-bot doctor` against the local Kubernetes API: all green for the demo's setup with the
plain installation's Roles, and each missing piece named on its own, with how to fix it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.taskconfig import CONFIGMAP_NAME
from bot.doctor import Doctor
from bot.sandbox.kube import LocalKubeAPI
from bot.sandbox.stack import NAMESPACE, cluster_objects

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = {"webhook": "orchestrator-bot-webhook", "controller": "orchestrator-bot-controller"}
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding")
Obj = dict[str, Any]


def installation() -> list[Obj]:
    """The demo's cluster (CRDs, namespace, job settings, API key and SSH secrets) plus the service
    accounts, Roles and RoleBindings of the plain installation (k8s/deploy/, the chart's defaults)."""
    plain = yaml.safe_load_all((ROOT / "k8s" / "deploy" / "orchestrator-bot.yaml").read_text())
    return cluster_objects() + [o for o in plain if o and o["kind"] in RBAC_KINDS]


@pytest.fixture
async def kube() -> AsyncIterator[LocalKubeAPI]:
    async with LocalKubeAPI() as server:
        yield server


async def doctor(kube: LocalKubeAPI, objects: list[Obj]) -> tuple[str, int]:
    for obj in objects:
        kube.apply_manifest(obj)
    return await Doctor(NAMESPACE, dict(ACCOUNTS), NAMESPACE).run(kube.kubeconfig_path)


def failures(text: str) -> list[str]:
    return [line.strip().removeprefix("FAIL").strip() for line in text.splitlines() if "FAIL  " in line]


async def test_the_demos_setup_is_all_green(kube: LocalKubeAPI) -> None:
    text, code = await doctor(kube, installation())
    assert code == 0, text
    assert failures(text) == []
    assert "FAIL" not in text and "--  " not in text
    for expected in (
        f"namespace {NAMESPACE} exists",
        "CRD coderuns.orchestrator.platform is the one orchestrator-bot",
        "CRD docsruns.orchestrator.platform is the one orchestrator-bot",
        f"ConfigMap {CONFIGMAP_NAME} in {NAMESPACE} parses",
        "its models are allowed: claude-",
        "secret anthropic-api-key holds the API key under api-key",
        "the templates render for a sample run: DocsRun (4 files",
        "webhook service account orchestrator-bot-webhook may do all 10 things its role needs",
        "controller service account orchestrator-bot-controller may do all 27 things its role needs",
    ):
        assert expected in text
    assert text.rstrip().endswith("checks passed.")


def without(kind: str, name: str) -> Callable[[list[Obj]], list[Obj]]:
    def change(objects: list[Obj]) -> list[Obj]:
        return [o for o in objects if (o["kind"], o["metadata"]["name"]) != (kind, name)]

    return change


def with_models(allowed: list[str]) -> Callable[[list[Obj]], list[Obj]]:
    def change(objects: list[Obj]) -> list[Obj]:
        for obj in objects:
            if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == CONFIGMAP_NAME:
                config = yaml.safe_load(obj["data"]["config.yaml"])
                config["models"]["allowed"] = allowed
                obj["data"]["config.yaml"] = yaml.safe_dump(config)
        return objects

    return change


def without_verb(role: str, resource: str, verb: str) -> Callable[[list[Obj]], list[Obj]]:
    def change(objects: list[Obj]) -> list[Obj]:
        for obj in objects:
            if obj["kind"] == "Role" and obj["metadata"]["name"] == role:
                for rule in obj["rules"]:
                    if resource in rule["resources"]:
                        rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        return objects

    return change


def with_changed_crd(objects: list[Obj]) -> list[Obj]:
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition" and obj["metadata"]["name"].startswith("docsruns."):
            obj["spec"]["names"]["shortNames"] = ["docs"]
    return objects


@pytest.mark.parametrize(
    ("change", "failed", "fix"),
    [
        pytest.param(
            without("CustomResourceDefinition", "coderuns.orchestrator.platform"),
            ["CRD coderuns.orchestrator.platform (CodeRun) is not installed"],
            "kubectl apply -f k8s/crds/",
            id="no CRD",
        ),
        pytest.param(
            with_changed_crd,
            [
                "CRD docsruns.orchestrator.platform differs from the one orchestrator-bot 0.1.0 ships: spec.names.shortNames[0]"
            ],
            "kubectl apply -f k8s/crds/",
            id="an older CRD",
        ),
        pytest.param(
            without("ConfigMap", CONFIGMAP_NAME),
            [f"ConfigMap {CONFIGMAP_NAME} in {NAMESPACE} does not exist"],
            "kubectl apply -f k8s/task-controller-config.yaml",
            id="no ConfigMap",
        ),
        pytest.param(
            with_models(["Claude Opus 4", "claude-sonnet-4-20250514"]),
            [
                f"ConfigMap {CONFIGMAP_NAME} in {NAMESPACE}: models.allowed: 'Claude Opus 4' is not a full model name"
            ],
            "list full model names",
            id="bad model list",
        ),
        pytest.param(
            without("Secret", "anthropic-api-key"),
            [
                "secret anthropic-api-key (the Anthropic API key, named in task-controller-config) does not exist"
            ],
            f"kubectl -n {NAMESPACE} create secret generic anthropic-api-key --from-literal=api-key=sk-ant-...",
            id="no secret",
        ),
        pytest.param(
            without_verb("orchestrator-bot-controller", "jobs", "delete"),
            [
                "controller service account orchestrator-bot-controller may not delete jobs.batch in orchestrator"
            ],
            "grant it in the Role bound to orchestrator-bot-controller",
            id="a forbidden verb",
        ),
        pytest.param(
            without("RoleBinding", "orchestrator-bot-webhook"),
            [
                f"webhook service account orchestrator-bot-webhook may not {what} in orchestrator"
                for what in (
                    "create coderuns.orchestrator.platform",
                    "get coderuns.orchestrator.platform",
                    "list coderuns.orchestrator.platform",
                    "patch coderuns.orchestrator.platform",
                    "create docsruns.orchestrator.platform",
                    "get docsruns.orchestrator.platform",
                    "list docsruns.orchestrator.platform",
                    "patch docsruns.orchestrator.platform",
                    "get configmaps task-controller-config",
                    "get secrets",
                )
            ],
            "grant it in the Role bound to orchestrator-bot-webhook",
            id="no binding for a role",
        ),
    ],
)
async def test_each_missing_piece_is_named_on_its_own_with_its_fix(
    kube: LocalKubeAPI, change: Callable[[list[Obj]], list[Obj]], failed: list[str], fix: str
) -> None:
    text, code = await doctor(kube, change(installation()))
    assert code == 1
    assert failures(text) == failed
    assert fix in text
    assert f"{len(failed)} problem" in text


async def test_without_the_configmap_the_checks_that_need_it_are_skipped(kube: LocalKubeAPI) -> None:
    text, _ = await doctor(kube, without("ConfigMap", CONFIGMAP_NAME)(installation()))
    assert "--    the API-key secret: needs a valid ConfigMap task-controller-config" in text
    assert "--    the templates render for a sample run: needs a valid ConfigMap" in text


async def test_an_unreachable_cluster_is_one_failure(kube: LocalKubeAPI) -> None:
    kubeconfig = kube.kubeconfig_path
    await kube.stop()
    text, code = await Doctor(NAMESPACE, dict(ACCOUNTS), NAMESPACE).run(kubeconfig)
    assert code == 1
    [failure] = failures(text)
    assert failure.startswith("Kubernetes unreachable while reading /api/v1/namespaces/orchestrator")


async def test_the_command_prints_the_checklist_and_exits_1(kube: LocalKubeAPI) -> None:
    for obj in without("Secret", "anthropic-api-key")(installation()):
        kube.apply_manifest(obj)
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig_path), "ORCHESTRATOR_NAMESPACE": NAMESPACE}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    text = stdout.decode()
    assert text.startswith(f"orchestrator-bot 0.1.0 doctor: namespace {NAMESPACE} at {kube.url}")
    assert failures(text) == [
        "secret anthropic-api-key (the Anthropic API key, named in task-controller-config) does not exist"
    ]
