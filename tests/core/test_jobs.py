"""The Job, ConfigMap and workspace claim a run gets (SPEC section 6), and the seed's bugs (section 9)."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

from bot.core.jobs import WORK_BRANCH_ANNOTATION, configmap_manifest, job_manifest, pvc_manifest
from bot.core.render import RenderError, build_context, render_files
from bot.core.taskconfig import TaskConfig, parse_task_config

from .conftest import TASK_CONFIG_YAML
from .test_render import CODE_OPTIONALS, SOURCES, TELEMETRY_CONFIG_YAML, code_run, docs_run

KUBERNETES_VERSION = "1.33.0"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SEED_LABELS = {"app", "component", "github-user", "task-type", "context-version"}


def container(job: dict[str, Any]) -> dict[str, Any]:
    [only] = job["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def volumes(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in job["spec"]["template"]["spec"]["volumes"]}


def mounts(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container(job)["volumeMounts"]}


def files_for(run: dict[str, Any], config: TaskConfig) -> dict[str, str]:
    context = build_context(run, config)
    return render_files(context.task_type, SOURCES, context)


@pytest.mark.parametrize(
    "run", [docs_run(), code_run(), code_run(**CODE_OPTIONALS)], ids=["docs", "code", "code+"]
)
def test_every_object_passes_kubernetes_validation(run: dict[str, Any], task_config: TaskConfig) -> None:
    objects = [job_manifest(run, task_config), configmap_manifest(run, files_for(run, task_config))]
    if run["kind"] == "CodeRun":
        objects.append(pvc_manifest(run, task_config))
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_job_with_image_pull_secrets_and_telemetry_passes_validation() -> None:
    config = parse_task_config(
        TELEMETRY_CONFIG_YAML.replace("agent:\n", "agent:\n  imagePullSecrets: [ghcr-pull]\n")
    )
    job = job_manifest(code_run(), config)
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("run", "branch"),
    [
        pytest.param(docs_run(), "docs/docs-3f2a9c1e7b", id="docs"),
        pytest.param(code_run(), "feature/task-5-trader", id="code"),
        pytest.param(docs_run(sourceBranch="docs/x", workBranch="docs/x"), "docs/x", id="docs continuation"),
        pytest.param(code_run(workBranch="fix/y"), "fix/y", id="code continuation"),
    ],
)
def test_the_job_names_the_branch_its_agent_pushes(
    run: dict[str, Any], branch: str, task_config: TaskConfig
) -> None:
    job = job_manifest(run, task_config)
    assert job["metadata"]["annotations"] == {WORK_BRANCH_ANNOTATION: branch}
    assert build_context(run, task_config).work_branch == branch  # what the script pushes


def test_job_has_the_exact_command(task_config: TaskConfig) -> None:
    """Seed bug: a Job without a command "succeeded" instantly without running anything. tini is
    PID 1, so the script gets SIGTERM at the deadline (bash as PID 1 ignores it)."""
    job = job_manifest(docs_run(), task_config)
    assert container(job)["command"] == ["/usr/bin/tini", "-g", "--", "/bin/bash", "/config/container.sh"]
    assert container(job)["name"] == "claude"
    assert container(job)["image"] == "ghcr.io/5dlabs/platform/claude-code:1.0.56"
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60


def test_job_runs_once_within_the_configured_deadline(task_config: TaskConfig) -> None:
    job = job_manifest(code_run(), task_config)
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_job_security_and_resources(task_config: TaskConfig) -> None:
    job = job_manifest(code_run(), task_config)
    pod = job["spec"]["template"]["spec"]
    assert {k: pod["securityContext"][k] for k in ("runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot")} == {
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "runAsNonRoot": True,
    }
    assert container(job)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container(job)["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert pod["automountServiceAccountToken"] is False


def test_ssh_secret_items_and_modes(task_config: TaskConfig) -> None:
    secret = volumes(job_manifest(code_run(githubUser="Alice"), task_config))["github-ssh"]["secret"]
    assert secret["secretName"] == "github-ssh-alice"
    assert secret["items"] == [
        {"key": "ssh-privatekey", "path": "id_ed25519", "mode": 384},
        {"key": "ssh-publickey", "path": "id_ed25519.pub", "mode": 420},
    ]
    assert (384, 420) == (0o600, 0o644)


def sidecar(job: dict[str, Any]) -> dict[str, Any]:
    [only] = job["spec"]["template"]["spec"]["initContainers"]
    assert isinstance(only, dict)
    return only


@pytest.mark.parametrize("run", [docs_run(), code_run()], ids=["docs", "code"])
def test_ssh_key_is_only_in_the_ssh_agent_sidecar(run: dict[str, Any], task_config: TaskConfig) -> None:
    """The agent pushes through ssh-agent's socket and never sees the key; the key is mounted read-only
    outside the workspace (seed bug: key files inside it broke workspace cleanup)."""
    job = job_manifest(run, task_config)
    assert all(mount["name"] != "github-ssh" for mount in container(job)["volumeMounts"])
    agent = sidecar(job)
    assert agent["restartPolicy"] == "Always"  # a native sidecar: started first, stopped last
    assert agent["startupProbe"]["exec"]["command"] == ["ssh-add", "-l"]
    [ssh] = [mount for mount in agent["volumeMounts"] if mount["name"] == "github-ssh"]
    assert ssh == {"name": "github-ssh", "mountPath": "/var/run/secrets/github-ssh", "readOnly": True}
    shared = {mount["mountPath"] for mount in agent["volumeMounts"] if mount["name"] == "ssh-agent"}
    assert shared == {
        mount["mountPath"] for mount in container(job)["volumeMounts"] if mount["name"] == "ssh-agent"
    }
    socket = {"name": "SSH_AUTH_SOCK", "value": "/run/ssh-agent/agent.sock"}
    assert socket in agent["env"] and socket in container(job)["env"]
    assert agent["securityContext"] == container(job)["securityContext"]


def test_config_and_managed_settings_mounts(task_config: TaskConfig) -> None:
    job = job_manifest(code_run(), task_config)
    by_path = mounts(job)
    assert by_path["/config"] == {"name": "config", "mountPath": "/config", "readOnly": True}
    assert by_path["/etc/claude-code/managed-settings.json"] == {
        "name": "config",
        "mountPath": "/etc/claude-code/managed-settings.json",
        "subPath": "settings.json",
        "readOnly": True,
    }
    assert volumes(job)["config"]["configMap"] == {"name": "code-5-trader-8d1c0f4a2b-files"}


def test_code_run_works_in_its_workspace_claim(task_config: TaskConfig) -> None:
    job = job_manifest(code_run(), task_config)
    claim = volumes(job)["workspace"]["persistentVolumeClaim"]["claimName"]
    assert claim == pvc_manifest(code_run(), task_config)["metadata"]["name"]
    assert mounts(job)["/workspace"]["name"] == "workspace"


def test_docs_run_works_in_an_empty_dir(task_config: TaskConfig) -> None:
    job = job_manifest(docs_run(), task_config)
    assert volumes(job)["workspace"] == {"name": "workspace", "emptyDir": {}}


def test_api_key_comes_from_the_configured_secret(task_config: TaskConfig) -> None:
    env = {item["name"]: item for item in container(job_manifest(docs_run(), task_config))["env"]}
    assert env["ANTHROPIC_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "anthropic-api-key", "key": "api-key"}
    }
    assert env["HOME"]["value"] == "/home/agent"
    assert not any(name.startswith("OTEL_") for name in env)


def test_telemetry_env_when_enabled() -> None:
    job = job_manifest(docs_run(), parse_task_config(TELEMETRY_CONFIG_YAML))
    env = {item["name"]: item.get("value") for item in container(job)["env"]}
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == "http://otel-collector.observability:4317"


def test_image_pull_secrets_from_config() -> None:
    config = parse_task_config(
        TASK_CONFIG_YAML.replace("agent:\n", "agent:\n  imagePullSecrets: [ghcr-pull]\n")
    )
    job = job_manifest(docs_run(), config)
    assert job["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "ghcr-pull"}]
    assert (
        "imagePullSecrets"
        not in job_manifest(docs_run(), parse_task_config(TASK_CONFIG_YAML))["spec"]["template"]["spec"]
    )


def test_code_labels_on_job_and_pod(task_config: TaskConfig) -> None:
    job = job_manifest(code_run(contextVersion=2), task_config)
    expected = {
        "app": "orchestrator",
        "component": "code-runner",
        "github-user": "alice",
        "task-type": "code",
        "task-id": "5",
        "service": "trader",
        "context-version": "2",
    }
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert expected.items() <= labels.items()
        assert labels["orchestrator.platform/run"] == "code-5-trader-8d1c0f4a2b"
        assert all(LABEL_VALUE.match(value) and len(value) <= 63 for value in labels.values())


def test_docs_labels_have_no_task_or_service(task_config: TaskConfig) -> None:
    labels = job_manifest(docs_run(), task_config)["metadata"]["labels"]
    assert set(labels) >= SEED_LABELS
    assert labels["task-type"] == "docs"
    assert labels["component"] == "docs-generator"
    assert "task-id" not in labels
    assert "service" not in labels


@pytest.mark.parametrize("kind", ["docs", "code"])
def test_job_and_configmap_are_owned_by_the_run(kind: str, task_config: TaskConfig) -> None:
    run = docs_run() if kind == "docs" else code_run()
    expected = [
        {
            "apiVersion": "orchestrator.platform/v1",
            "kind": run["kind"],
            "name": run["metadata"]["name"],
            "uid": run["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert job_manifest(run, task_config)["metadata"]["ownerReferences"] == expected
    assert configmap_manifest(run, {"a": "b"})["metadata"]["ownerReferences"] == expected


def test_owner_reference_needs_the_run_uid(task_config: TaskConfig) -> None:
    run = docs_run()
    del run["metadata"]["uid"]
    with pytest.raises(RenderError, match=r"no metadata\.uid"):
        job_manifest(run, task_config)


def test_each_run_has_its_own_configmap(task_config: TaskConfig) -> None:
    """Seed bug: a shared ConfigMap name let runs overwrite each other's files."""
    first = code_run()
    second = code_run()
    second["metadata"] = {**second["metadata"], "name": "code-5-trader-0000000001", "uid": "uid-2"}
    names = {configmap_manifest(run, {})["metadata"]["name"] for run in (first, second)}
    assert names == {"code-5-trader-8d1c0f4a2b-files", "code-5-trader-0000000001-files"}
    job = job_manifest(second, task_config)
    assert volumes(job)["config"]["configMap"]["name"] == "code-5-trader-0000000001-files"


def test_names_depend_only_on_the_run(task_config: TaskConfig) -> None:
    """Seed bug: timestamp-based names plus a requeue created five Jobs a minute."""
    run = code_run()
    jobs = [job_manifest(run, task_config) for _ in range(3)]
    assert all(job == jobs[0] for job in jobs)
    assert jobs[0]["metadata"]["name"] == "code-5-trader-8d1c0f4a2b"
    assert configmap_manifest(run, {})["metadata"]["name"] == "code-5-trader-8d1c0f4a2b-files"
    assert pvc_manifest(run, task_config) == pvc_manifest(code_run(), task_config)


def test_configmap_holds_the_rendered_files(task_config: TaskConfig) -> None:
    run = code_run()
    files = files_for(run, task_config)
    configmap = configmap_manifest(run, files)
    assert configmap["data"] == files
    assert configmap["metadata"]["namespace"] == "orchestrator"


def test_configmap_over_one_mebibyte_is_refused() -> None:
    with pytest.raises(RenderError, match="over 1 MiB"):
        configmap_manifest(docs_run(), {"prompt.md": "x" * (1024 * 1024)})


def test_workspace_claim_for_a_code_run(task_config: TaskConfig) -> None:
    pvc = pvc_manifest(code_run(), task_config)
    assert re.fullmatch(r"workspace-trader-[0-9a-f]{16}", pvc["metadata"]["name"])
    assert pvc["metadata"]["namespace"] == "orchestrator"
    assert pvc["metadata"]["labels"]["service"] == "trader"
    assert pvc["metadata"]["labels"]["github-user"] == "alice"
    assert pvc["metadata"]["annotations"] == {
        "orchestrator.platform/workspace-repository": "github.com/demo-org/trader",
        "orchestrator.platform/workspace-scope": "user",
    }
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    # It outlives runs, so no run owns it.
    assert "ownerReferences" not in pvc["metadata"]


def test_no_workspace_claim_for_a_docs_run(task_config: TaskConfig) -> None:
    with pytest.raises(RenderError, match="only a CodeRun has one"):
        pvc_manifest(docs_run(), task_config)
