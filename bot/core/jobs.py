"""The Kubernetes objects a run gets: its ConfigMap of rendered files, its Job and, for a CodeRun,
its workspace claim. Pure functions of the run manifest and the task config.

Names come from the run only (never the clock), and every child but the claim is owned by the run,
so re-reconciling finds the same objects and deleting the run deletes them. See SPEC section 6.

The user's SSH private key is mounted only into a native sidecar (an init container that keeps
running) holding it in ssh-agent; the agent's container gets the agent's socket, so it can push as
the user during the run but never read or copy the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name
from bot.core.render import PATHS, ParsedRun, RenderError, parse_run, telemetry_env, work_branch
from bot.core.resources import API_VERSION, CodeRunSpec
from bot.core.runs import LABEL_PREFIX, MANAGED_BY
from bot.core.taskconfig import TaskConfig
from bot.core.workspace import workspace

SSH_PRIVATE_KEY_FILE = "id_ed25519"
SSH_PUBLIC_KEY_FILE = "id_ed25519.pub"
CONTAINER_NAME = "claude"
WORK_BRANCH_ANNOTATION = LABEL_PREFIX + "work-branch"
"""On the Job: the branch its agent pushes to (`kubectl describe job` shows it)."""
INIT = ["/usr/bin/tini", "-g", "--"]
"""The agent image's init (agent/Dockerfile): bash as PID 1 would ignore SIGTERM, and tini passes it
to the whole process group, so the script saves and reports before the grace period ends."""
COMMAND = [*INIT, "/bin/bash", f"{PATHS.config_dir}/container.sh"]
SSH_AGENT_CONTAINER = "ssh-agent"
SSH_AGENT_SCRIPT = f"""\
set -eu
rm -f "$SSH_AUTH_SOCK"
ssh-agent -D -a "$SSH_AUTH_SOCK" &
agent=$!
trap 'kill "$agent"; wait "$agent"; exit 0' TERM INT
while [ ! -S "$SSH_AUTH_SOCK" ]; do sleep 0.1; done
# From stdin: ssh-add refuses a key file that the volume's fsGroup made group-readable.
ssh-add -q - <{PATHS.ssh_key_dir}/{SSH_PRIVATE_KEY_FILE}
wait "$agent"
"""
"""The sidecar: ssh-agent on the shared socket, holding the user's key (it never exports it)."""
SSH_AGENT_COMMAND = [*INIT, "/bin/sh", "-c", SSH_AGENT_SCRIPT]
SSH_AGENT_READY = ["ssh-add", "-l"]
"""The sidecar's startup probe: the agent container starts once the key is in the agent."""
TERMINATION_GRACE_SECONDS = 60
PRIVATE_KEY_MODE = 0o600
PUBLIC_KEY_MODE = 0o644
SETTINGS_KEY = "settings.json"
AGENT_UID = 1000
COMPONENTS = {"DocsRun": "docs-generator", "CodeRun": "code-runner"}
MAX_CONFIGMAP_BYTES = 1024 * 1024
"""The apiserver refuses ConfigMaps over 1 MiB; saying so here names the cause."""


def configmap_name(run_name: str) -> str:
    """One ConfigMap per run: a shared name once let runs overwrite each other's files."""
    return f"{run_name}-files"


def job_name(run_name: str) -> str:
    return run_name


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
        {"name": "SSH_AUTH_SOCK", "value": PATHS.ssh_agent_socket},
    ]
    env += [{"name": name, "value": value} for name, value in telemetry_env(config.telemetry).items()]
    return env


def pvc_name(run: Mapping[str, Any], config: TaskConfig) -> str:
    """A CodeRun's workspace claim: see `bot.core.workspace` for who shares it."""
    parsed = parse_run(run)
    if not isinstance(parsed.spec, CodeRunSpec):
        raise RenderError(f"{parsed.kind} {parsed.name} has no workspace claim: only a CodeRun has one")
    return workspace(parsed.spec, config.workspace.scope).claim_name


def _volumes(run: ParsedRun, config: TaskConfig) -> list[dict[str, Any]]:
    if isinstance(run.spec, CodeRunSpec):
        claim = workspace(run.spec, config.workspace.scope).claim_name
        work: dict[str, Any] = {"persistentVolumeClaim": {"claimName": claim}}
    else:
        work = {"emptyDir": {}}
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
        # Only the socket is shared between the sidecar and the agent.
        {"name": "ssh-agent", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "workspace", **work},
        {"name": "home", "emptyDir": {}},
    ]


def _socket_dir() -> str:
    return PATHS.ssh_agent_socket.rsplit("/", 1)[0]


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "config", "mountPath": PATHS.config_dir, "readOnly": True},
        {
            "name": "config",
            "mountPath": PATHS.managed_settings,
            "subPath": SETTINGS_KEY,
            "readOnly": True,
        },
        {"name": "ssh-agent", "mountPath": _socket_dir()},
        {"name": "workspace", "mountPath": PATHS.workspace},
        {"name": "home", "mountPath": PATHS.home},
    ]


_SECURITY_CONTEXT = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _ssh_agent_sidecar(config: TaskConfig) -> dict[str, Any]:
    return {
        "name": SSH_AGENT_CONTAINER,
        "image": config.agent.image.reference,
        "imagePullPolicy": "IfNotPresent",
        # An init container that keeps running: a native sidecar (Kubernetes 1.29 and later). It
        # starts, and passes its probe, before the agent; it is stopped after the agent finishes.
        "restartPolicy": "Always",
        "command": list(SSH_AGENT_COMMAND),
        "env": [{"name": "SSH_AUTH_SOCK", "value": PATHS.ssh_agent_socket}],
        "startupProbe": {
            "exec": {"command": list(SSH_AGENT_READY)},
            "periodSeconds": 1,
            "failureThreshold": 30,
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
        "securityContext": dict(_SECURITY_CONTEXT),
        "volumeMounts": [
            # Outside the workspace: read-only key files inside it once broke workspace cleanup.
            {"name": "github-ssh", "mountPath": PATHS.ssh_key_dir, "readOnly": True},
            {"name": "ssh-agent", "mountPath": _socket_dir()},
        ],
    }


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
        "securityContext": dict(_SECURITY_CONTEXT),
        "volumeMounts": _mounts(),
        "terminationMessagePath": PATHS.termination_log,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # The script saves and reports on SIGTERM (deadline, cancel): time to commit and push.
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
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
        "initContainers": [_ssh_agent_sidecar(config)],
        "containers": [container],
        "volumes": _volumes(parsed, config),
    }
    if config.agent.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in config.agent.image_pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            **_metadata(parsed, job_name(parsed.name)),
            "annotations": {WORK_BRANCH_ANNOTATION: work_branch(parsed)},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": config.job.active_deadline_seconds,
            "template": {"metadata": {"labels": labels(parsed)}, "spec": pod_spec},
        },
    }


def pvc_manifest(run: Mapping[str, Any], config: TaskConfig) -> dict[str, Any]:
    """A CodeRun's workspace claim (a DocsRun works in an emptyDir and has none). Not owned by the
    run: the workspace outlives runs so the next run of the same workspace continues from it."""
    parsed = parse_run(run)
    if not isinstance(parsed.spec, CodeRunSpec):
        raise RenderError(f"{parsed.kind} {parsed.name} has no workspace claim: only a CodeRun has one")
    place = workspace(parsed.spec, config.workspace.scope)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": place.claim_name,
            "namespace": parsed.namespace,
            "labels": {"app": "orchestrator", "component": "workspace", **place.labels, **MANAGED_BY},
            "annotations": place.annotations,
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": config.workspace.size}},
        },
    }
