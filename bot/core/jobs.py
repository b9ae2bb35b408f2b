"""The Kubernetes objects a run gets: its ConfigMap of rendered files, its Job and, for a CodeRun,
the service's workspace claim. Pure functions of the run manifest and the task config.

Names come from the run only (never the clock), and every child but the claim is owned by the run,
so re-reconciling finds the same objects and deleting the run deletes them. See SPEC section 6.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name
from bot.core.render import PATHS, ParsedRun, RenderError, parse_run, telemetry_env
from bot.core.resources import API_VERSION, CodeRunSpec
from bot.core.runs import LABEL_PREFIX, MANAGED_BY
from bot.core.taskconfig import TaskConfig

CONTAINER_NAME = "claude"
COMMAND = ["/bin/bash", f"{PATHS.config_dir}/container.sh"]
SSH_PRIVATE_KEY_FILE = "id_ed25519"
SSH_PUBLIC_KEY_FILE = "id_ed25519.pub"
PRIVATE_KEY_MODE = 0o600
PUBLIC_KEY_MODE = 0o644
SETTINGS_KEY = "settings.json"
WORKSPACE_SIZE = "10Gi"
AGENT_UID = 1000
COMPONENTS = {"DocsRun": "docs-generator", "CodeRun": "code-runner"}
MAX_CONFIGMAP_BYTES = 1024 * 1024
"""The apiserver refuses ConfigMaps over 1 MiB; saying so here names the cause."""


def configmap_name(run_name: str) -> str:
    """One ConfigMap per run: a shared name once let runs overwrite each other's files."""
    return f"{run_name}-files"


def job_name(run_name: str) -> str:
    return run_name


def pvc_name(service: str) -> str:
    return f"workspace-{service}"


def owner_reference(run: ParsedRun) -> dict[str, Any]:
    if run.uid is None:
        raise RenderError(f"{run.kind} {run.name} has no metadata.uid: read it from the cluster first")
    return {
        "apiVersion": API_VERSION,
        "kind": run.kind,
        "name": run.name,
        "uid": run.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(run: ParsedRun) -> dict[str, str]:
    """The seed's labels (task-id and service only where they exist: a DocsRun has neither), plus
    which run the object belongs to."""
    values = {
        "app": "orchestrator",
        "component": COMPONENTS[run.kind],
        "github-user": run.spec.github_user.lower(),
        "task-type": run.task_type,
        "context-version": str(run.attempt),
    }
    if isinstance(run.spec, CodeRunSpec):
        values["task-id"] = str(run.spec.task_id)
        values["service"] = run.spec.service
    return {**values, **MANAGED_BY, LABEL_PREFIX + "run": run.name}


def _metadata(run: ParsedRun, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": run.namespace,
        "labels": labels(run),
        "ownerReferences": [owner_reference(run)],
    }


def configmap_manifest(run: Mapping[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    parsed = parse_run(run)
    size = sum(len(key.encode()) + len(value.encode()) for key, value in files.items())
    if size > MAX_CONFIGMAP_BYTES:
        raise RenderError(f"{parsed.kind} {parsed.name}: rendered files are {size} bytes, over 1 MiB")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(parsed, configmap_name(parsed.name)),
        "data": dict(sorted(files.items())),
    }


def _env(config: TaskConfig) -> list[dict[str, Any]]:
    api_key = {"name": config.secrets.api_key_secret_name, "key": config.secrets.api_key_secret_key}
    env: list[dict[str, Any]] = [
        # Read from the secret at start, so rotating the key needs no new template or controller.
        {"name": "ANTHROPIC_API_KEY", "valueFrom": {"secretKeyRef": api_key}},
        {"name": "HOME", "value": PATHS.home},
    ]
    env += [{"name": name, "value": value} for name, value in telemetry_env(config.telemetry).items()]
    return env


def _volumes(run: ParsedRun) -> list[dict[str, Any]]:
    if isinstance(run.spec, CodeRunSpec):
        workspace: dict[str, Any] = {"persistentVolumeClaim": {"claimName": pvc_name(run.spec.service)}}
    else:
        workspace = {"emptyDir": {}}
    ssh_items = [
        {"key": SSH_PRIVATE_KEY, "path": SSH_PRIVATE_KEY_FILE, "mode": PRIVATE_KEY_MODE},
        {"key": SSH_PUBLIC_KEY, "path": SSH_PUBLIC_KEY_FILE, "mode": PUBLIC_KEY_MODE},
    ]
    return [
        {"name": "config", "configMap": {"name": configmap_name(run.name)}},
        {
            "name": "github-ssh",
            "secret": {
                "secretName": ssh_secret_name(run.spec.github_user),
                "items": ssh_items,
            },
        },
        {"name": "workspace", **workspace},
        # HOME is scratch: the copied SSH key lives here and disappears with the pod.
        {"name": "home", "emptyDir": {}},
    ]


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "config", "mountPath": PATHS.config_dir, "readOnly": True},
        {
            "name": "config",
            "mountPath": PATHS.managed_settings,
            "subPath": SETTINGS_KEY,
            "readOnly": True,
        },
        # Outside the workspace: read-only key files inside it once broke workspace cleanup.
        {"name": "github-ssh", "mountPath": PATHS.ssh_key_dir, "readOnly": True},
        {"name": "workspace", "mountPath": PATHS.workspace},
        {"name": "home", "mountPath": PATHS.home},
    ]


def job_manifest(run: Mapping[str, Any], config: TaskConfig) -> dict[str, Any]:
    """The Job of SPEC section 6. Its explicit command matters: a Job without one once "succeeded"
    instantly without running anything."""
    parsed = parse_run(run)
    container = {
        "name": CONTAINER_NAME,
        "image": config.agent.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "command": list(COMMAND),
        "workingDir": PATHS.workspace,
        "env": _env(config),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "2", "memory": "4Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": _mounts(),
        "terminationMessagePath": PATHS.termination_log,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # The agent talks to GitHub and Anthropic, never to the Kubernetes API.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsUser": AGENT_UID,
            "runAsGroup": AGENT_UID,
            "fsGroup": AGENT_UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": _volumes(parsed),
    }
    if config.agent.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in config.agent.image_pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(parsed, job_name(parsed.name)),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": config.job.active_deadline_seconds,
            "template": {"metadata": {"labels": labels(parsed)}, "spec": pod_spec},
        },
    }


def pvc_manifest(run: Mapping[str, Any]) -> dict[str, Any]:
    """A CodeRun's service workspace claim (a DocsRun works in an emptyDir and has none). Not owned
    by the run: the workspace outlives runs so the next run of the service continues from it."""
    parsed = parse_run(run)
    if not isinstance(parsed.spec, CodeRunSpec):
        raise RenderError(f"{parsed.kind} {parsed.name} has no workspace claim: only a CodeRun has one")
    service = parsed.spec.service
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": pvc_name(service),
            "namespace": parsed.namespace,
            "labels": {"app": "orchestrator", "component": "workspace", "service": service, **MANAGED_BY},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": WORKSPACE_SIZE}},
        },
    }
