"""Pure: what `orchestrator-bot doctor` checks in a deployment and how it reports it.

The edge (bot/doctor.py) reads the cluster; these functions judge what it read: whether an installed
CRD is the one this build ships, whether the job settings parse and name allowed models, whether the
templates render for a sample run, and what each role's service account must be allowed to do (the
Roles in the Helm chart grant exactly this; tests/deploy/test_rbac.py holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from bot.core.jobs import configmap_manifest, job_manifest, pvc_manifest
from bot.core.render import build_context, render_files
from bot.core.resources import GROUP, VERSION
from bot.core.taskconfig import CONFIGMAP_NAME, TaskConfig

Role = Literal["webhook", "controller"]
Outcome = Literal["ok", "fail", "skip"]
LEASE_NAME = "orchestrator-controller"


@dataclass(frozen=True)
class Check:
    """One line of the checklist; a failure says how to fix it."""

    outcome: Outcome
    what: str
    fix: str = ""


@dataclass(frozen=True)
class Access:
    """One thing a role's service account must be allowed to do (one SelfSubjectAccessReview)."""

    verb: str
    group: str
    resource: str
    name: str = ""

    def describe(self, namespace: str) -> str:
        base, _, subresource = self.resource.partition("/")
        resource = f"{base}.{self.group}" if self.group else base
        resource += f"/{subresource}" if subresource else ""
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {resource}{named} in {namespace}"


def _each(verbs: str, group: str, resources: str, name: str = "") -> tuple[Access, ...]:
    return tuple(Access(v, group, r, name) for r in resources.split() for v in verbs.split())


ROLE_ACCESS: Mapping[Role, tuple[Access, ...]] = {
    "webhook": (
        *_each("create get list patch", GROUP, "coderuns docsruns"),
        *_each("get", "", "configmaps", CONFIGMAP_NAME),
        *_each("get", "", "secrets"),
    ),
    "controller": (
        *_each("get list watch patch", GROUP, "coderuns docsruns"),
        *_each("patch", GROUP, "coderuns/status docsruns/status"),
        *_each("update", GROUP, "coderuns/finalizers docsruns/finalizers"),
        *_each("create get list watch delete", "batch", "jobs"),
        *_each("create", "", "configmaps"),
        *_each("get", "", "configmaps", CONFIGMAP_NAME),
        *_each("create", "", "persistentvolumeclaims"),
        *_each("get list watch", "", "pods"),
        *_each("get", "", "pods/log"),
        *_each("create", "coordination.k8s.io", "leases"),
        *_each("get update", "coordination.k8s.io", "leases", LEASE_NAME),
    ),
}


def crd_differences(expected: Mapping[str, Any], installed: Mapping[str, Any]) -> list[str]:
    """Where the installed CRD's spec differs from this build's: every field this build sets must be
    there with the same value (the apiserver may add defaults, so extra fields are fine)."""
    return _differences(expected.get("spec"), installed.get("spec"), "spec")


def _differences(expected: Any, installed: Any, path: str) -> list[str]:
    if isinstance(expected, Mapping):
        if not isinstance(installed, Mapping):
            return [path]
        found: list[str] = []
        for key, value in expected.items():
            found.extend(_differences(value, installed.get(key), f"{path}.{key}"))
        return found
    if isinstance(expected, list):
        if not isinstance(installed, list) or len(installed) != len(expected):
            return [path]
        return [
            d
            for i, (e, got) in enumerate(zip(expected, installed, strict=True))
            for d in _differences(e, got, f"{path}[{i}]")
        ]
    return [] if expected == installed else [path]


def task_config_problems(data: Any) -> tuple[list[str], list[str], TaskConfig | None]:
    """config.yaml's problems, split into those of `models` and the rest, and the config if valid."""
    if not isinstance(data, dict):
        return ["config.yaml must be a mapping of settings"], [], None
    try:
        return [], [], TaskConfig.model_validate(data)
    except ValidationError as exc:
        general: list[str] = []
        models: list[str] = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            what = "is required" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
            problem = what if what.startswith(f"{where}.") else f"{where}: {what}"
            (models if where.split(".")[0] == "models" else general).append(problem)
        return general, models, None


def sample_runs(config: TaskConfig, namespace: str) -> list[dict[str, Any]]:
    """A DocsRun and a CodeRun as the webhook would create them, using the configured default models."""
    metadata = {"namespace": namespace, "uid": "00000000-0000-0000-0000-000000000000"}
    repository = "git@github.com:example/service.git"
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DocsRun",
            "metadata": {"name": "docs-doctor", **metadata},
            "spec": {
                "repositoryUrl": repository,
                "workingDirectory": "docs",
                "sourceBranch": "main",
                "model": config.models.default_docs,
                "githubUser": "doctor",
            },
        },
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "CodeRun",
            "metadata": {"name": "code-1-doctor", **metadata},
            "spec": {
                "taskId": 1,
                "service": "doctor",
                "repositoryUrl": repository,
                "platformRepositoryUrl": "git@github.com:example/platform.git",
                "branch": "main",
                "workingDirectory": ".",
                "model": config.models.default_code,
                "githubUser": "doctor",
            },
        },
    ]


def render_sample_runs(config: TaskConfig, sources: Mapping[str, str], namespace: str) -> list[str]:
    """What each sample run renders into (its ConfigMap, claim and Job); raises what rendering raises."""
    rendered = []
    for run in sample_runs(config, namespace):
        files = render_files(run["kind"], sources, build_context(run, config))
        objects = [configmap_manifest(run, files), job_manifest(run, config)]
        if run["kind"] == "CodeRun":
            objects.append(pvc_manifest(run, config))
        rendered.append(f"{run['kind']} ({len(files)} files, {len(objects)} objects)")
    return rendered


def report(checks: Sequence[Check], heading: str) -> tuple[str, int]:
    """The checklist as text, and the exit code: 1 if anything failed."""
    marks = {"ok": "ok  ", "fail": "FAIL", "skip": "--  "}
    lines = [heading]
    for check in checks:
        lines.append(f"  {marks[check.outcome]}  {check.what}")
        if check.fix:
            lines.append(f"        fix: {check.fix}")
    failed = sum(1 for check in checks if check.outcome == "fail")
    if failed:
        lines.append(f"{failed} problem{'s' if failed != 1 else ''} found.")
    else:
        lines.append(f"All {len(checks)} checks passed.")
    return "\n".join(lines) + "\n", 1 if failed else 0
