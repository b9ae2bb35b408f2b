"""The real kubectl against `python -m bot.sandbox.kube` in a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.kube_fixtures import TEST_CODERUN_CRD

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

MANIFEST = """\
apiVersion: orchestrator.platform/v1
kind: CodeRun
metadata:
  name: run-1
spec:
  taskId: 5
  service: trader
  repositoryUrl: git@github.com:example/trader.git
  platformRepositoryUrl: git@github.com:example/platform.git
  branch: main
  workingDirectory: .
  model: claude-opus-4-20250514
  githubUser: alice
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: task-controller-config
data:
  config.yaml: "job: {activeDeadlineSeconds: 3600}"
"""


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator[list[str]]:
    """A server started the way a user starts it, and the kubectl command line that talks to it."""
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sandbox.kube",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--apply",
            str(TEST_CODERUN_CRD),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "listening on" in line:
                break
        else:
            pytest.fail(f"the server did not start (exit code {server.wait()})")
        # kubectl caches discovery per host:port; a cache of its own keeps runs apart
        yield ["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "kube-cache")]
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(command: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_kubectl_get_apply_and_printer_columns(kubectl: list[str]) -> None:
    namespaces = run(kubectl, "get", "ns")
    assert namespaces.returncode == 0, namespaces.stderr
    assert namespaces.stdout.split("\n")[0].split() == ["NAME", "STATUS", "AGE"]
    assert "default" in namespaces.stdout and "Active" in namespaces.stdout

    applied = run(kubectl, "apply", "-f", "-", stdin=MANIFEST)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.split("\n")[:2] == [
        "coderun.orchestrator.platform/run-1 created",
        "configmap/task-controller-config created",
    ]
    reapplied = run(kubectl, "apply", "-f", "-", stdin=MANIFEST.replace("taskId: 5", "taskId: 6"))
    assert reapplied.returncode == 0, reapplied.stderr
    assert "coderun.orchestrator.platform/run-1 configured" in reapplied.stdout

    runs = run(kubectl, "get", "coderuns")
    assert runs.returncode == 0, runs.stderr
    header, row = runs.stdout.strip().split("\n")
    assert header.split() == ["NAME", "TASK", "SERVICE", "MODEL", "PHASE", "AGE"]
    assert row.split()[:4] == ["run-1", "6", "trader", "claude-opus-4-20250514"]


def test_kubectl_errors_come_from_the_server(kubectl: list[str]) -> None:
    invalid = run(kubectl, "apply", "-f", "-", stdin=MANIFEST.replace("taskId: 5", 'taskId: "five"'))
    assert invalid.returncode != 0
    assert "spec.taskId in body must be of type integer" in invalid.stderr
    # kubectl >= 1.32 sends imperative `create configmap` bodies as protobuf, which a JSON-only server refuses
    imperative = run(kubectl, "create", "configmap", "literal", "--from-literal=a=b")
    assert imperative.returncode != 0
    assert "the body of the request was in an unknown format" in imperative.stderr
