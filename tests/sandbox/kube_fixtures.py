"""Helpers shared by the local Kubernetes API tests: fixture paths, kubernetes_asyncio clients built
from the server's kubeconfig (as the bot builds them), and valid CodeRun / Job bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client, config

from bot.sandbox.kube import LocalKubeAPI

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]
TEST_CODERUN_CRD = FIXTURES / "coderuns-crd.yaml"
REAL_CODERUN_CRD = REPO / "k8s" / "crds" / "coderuns.yaml"
GROUP, VERSION = "orchestrator.platform", "v1"


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def coderun_crd_files() -> list[Any]:
    """The test CRD, and the real one once it has landed in k8s/crds/."""
    files = [pytest.param(TEST_CODERUN_CRD, id="test-crd")]
    if REAL_CODERUN_CRD.exists():
        files.append(pytest.param(REAL_CODERUN_CRD, id="k8s-crd"))
    return files


async def api_client_for(kube: LocalKubeAPI) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kube.kubeconfig_path), client_configuration=configuration)
    return client.ApiClient(configuration)


def coderun(name: str, **spec: Any) -> dict[str, Any]:
    """A valid CodeRun body; keyword arguments replace spec fields (None removes one)."""
    body: dict[str, Any] = {
        "taskId": 5,
        "service": "trader",
        "repositoryUrl": "git@github.com:example/trader.git",
        "platformRepositoryUrl": "git@github.com:example/platform.git",
        "branch": "main",
        "workingDirectory": ".",
        "model": "claude-opus-4-20250514",
        "githubUser": "alice",
    }
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CodeRun",
        "metadata": {"name": name},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def job(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "agent", "image": "busybox:1.36", "command": ["/bin/sh", "-c", "true"]}
                ],
            }
        },
    }
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": body}
