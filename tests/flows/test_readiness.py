"""Without its job settings `serve` says so: /readyz is 503 naming the ConfigMap task-controller-config
(and what to create) until it exists and is valid, a command is answered 503 (so GitHub records a
failed delivery for the redelivery sweeper) and the log says what to create; other comments are
answered as usual. Over HTTP, against the local Kubernetes and GitHub APIs."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from bot.core.taskconfig import CONFIGMAP_NAME
from bot.sandbox.stack import NAMESPACE, Stack, cluster_objects

CREATE = "create it with the job settings (kubectl apply -f k8s/task-controller-config.yaml"


def task_config(**models: Any) -> dict[str, Any]:
    [configmap] = [o for o in cluster_objects() if o["kind"] == "ConfigMap"]
    configmap = copy.deepcopy(configmap)
    if models:
        config = yaml.safe_load(configmap["data"]["config.yaml"])
        config["models"].update(models)
        configmap["data"]["config.yaml"] = yaml.safe_dump(config)
    return configmap


async def readyz(stack: Stack) -> tuple[int, dict[str, Any]]:
    async with stack.session.get(stack.webhook_url.rsplit("/", 1)[0] + "/readyz") as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_readyz_names_the_missing_configmap_until_it_is_created(
    stack: Stack, kube_api: client.ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.CoreV1Api(kube_api).delete_namespaced_config_map(CONFIGMAP_NAME, NAMESPACE)

    status, body = await readyz(stack)
    assert status == 503
    [problem] = body["problems"]
    assert problem.startswith(
        f"kubernetes: ConfigMap {CONFIGMAP_NAME} not found in namespace {NAMESPACE}: {CREATE}"
    )

    with caplog.at_level(logging.WARNING):
        status, _ = await stack.comment(issue=5, user="alice", body="/docs")
    assert status == 503
    assert f"ConfigMap {CONFIGMAP_NAME} not found in namespace {NAMESPACE}: {CREATE}" in caplog.text
    status, answer = await stack.comment(issue=5, user="alice", body="Thanks, looks good.")
    assert status == 200, answer

    stack.kube.apply_manifest(task_config())
    # A missing ConfigMap is never cached: the next probe sees it (well within the 30 s cache time).
    assert await readyz(stack) == (200, {"status": "ready"})
    status, answer = await stack.comment(issue=5, user="alice", body="/docs")
    assert status == 200, answer


async def test_readyz_names_an_invalid_configmap_until_it_is_fixed(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    await client.CoreV1Api(kube_api).delete_namespaced_config_map(CONFIGMAP_NAME, NAMESPACE)
    stack.kube.apply_manifest(task_config(defaultDocs="claude-haiku-4-20250514"))

    status, body = await readyz(stack)
    assert status == 503
    assert body["problems"] == [
        f"kubernetes: ConfigMap {CONFIGMAP_NAME} in namespace {NAMESPACE} is invalid, fix it: config.yaml: "
        "models: models.defaultDocs 'claude-haiku-4-20250514' is not in models.allowed"
    ]

    stack.kube.apply_manifest(task_config(defaultDocs="claude-opus-4-20250514"))
    assert await readyz(stack) == (200, {"status": "ready"})
