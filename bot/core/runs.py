"""Accepted commands -> DocsRun / CodeRun manifests, with deterministic names.

A run's name depends only on the event's identity and the command's index in the comment (or, for a
retry, on the run it retries), never on the clock: GitHub's redeliveries and parallel replicas produce
the same name, Kubernetes answers 409 to the second create, and each command yields exactly one run.
The identity is read from the signed body where it can be (`Origin.run_identity`: the comment's id),
because the delivery id header is not signed and a replayed delivery may carry any.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.core.origin import Origin
from bot.core.resources import API_VERSION, CodeRunSpec, DocsRunSpec, RunKind
from bot.core.taskconfig import TaskConfig

if TYPE_CHECKING:  # the commands plan their runs with these functions: no import cycle at run time
    from bot.core.commands.code import CodeArgs
    from bot.core.commands.docs import DocsArgs

MAX_NAME_LENGTH = 63
"""A Job is named after its run, and Job names are label values: at most 63 characters."""
_HASH_LENGTH = 10
MANAGED_BY = {"app.kubernetes.io/managed-by": "orchestrator-bot"}
LABEL_PREFIX = "orchestrator.platform/"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:_HASH_LENGTH]


def run_name(prefix: str, *identity: str) -> str:
    """`<prefix>-<hash of identity>`, the prefix cut so the whole is a DNS-1123 label of ≤ 63 chars."""
    budget = MAX_NAME_LENGTH - _HASH_LENGTH - 1
    readable = re.sub(r"[^a-z0-9-]+", "-", prefix.lower())[:budget].strip("-")
    return f"{readable}-{_digest(*identity)}"


def command_run_name(
    kind: RunKind, identity: str, index: int, task_id: int | None, service: str | None
) -> str:
    """`identity` is the event's (`Origin.run_identity`); `index` the command's place in the comment."""
    prefix = f"code-{task_id}-{service}" if kind == "CodeRun" else "docs"
    return run_name(prefix, identity, str(index))


def retry_run_name(previous_name: str, context_version: int) -> str:
    """Pressing Retry twice, or a redelivered retry, names the same run: one retry per version."""
    prefix = (
        previous_name[: -(_HASH_LENGTH + 1)] if re.search(r"-[0-9a-f]{10}$", previous_name) else previous_name
    )
    return run_name(prefix, previous_name, f"context-version-{context_version}")


def _labels(kind: RunKind, origin: Origin, extra: dict[str, str]) -> dict[str, str]:
    return {
        **MANAGED_BY,
        LABEL_PREFIX + "task-type": "code" if kind == "CodeRun" else "docs",
        LABEL_PREFIX + "github-user": origin.sender.lower(),
        LABEL_PREFIX + "repository-id": str(origin.repository_id),
        LABEL_PREFIX + "issue": str(origin.issue_number),
        **{LABEL_PREFIX + key: value for key, value in extra.items()},
    }


def _manifest(
    kind: RunKind,
    name: str,
    namespace: str,
    origin: Origin,
    spec: dict[str, Any],
    extra_labels: dict[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": _labels(kind, origin, extra_labels),
            "annotations": origin.annotations(),
        },
        "spec": spec,
    }


def _start_branch(requested: str | None, origin: Origin) -> str:
    return requested or origin.head_branch or origin.default_branch


def docs_run(
    args: DocsArgs, origin: Origin, index: int, config: TaskConfig, namespace: str
) -> dict[str, Any]:
    spec = DocsRunSpec(
        repository_url=origin.ssh_url,
        working_directory=args.working_directory or config.defaults.working_directory,
        source_branch=_start_branch(args.branch, origin),
        model=args.model or config.models.default_docs,
        github_user=origin.sender,
    )
    name = command_run_name("DocsRun", origin.run_identity, index, None, None)
    return _manifest("DocsRun", name, namespace, origin, spec.to_manifest(), {})


def code_run(
    args: CodeArgs, origin: Origin, index: int, config: TaskConfig, namespace: str
) -> dict[str, Any]:
    spec = CodeRunSpec(
        task_id=args.task_id,
        service=args.service,
        repository_url=origin.ssh_url,
        platform_repository_url=(
            args.platform_repository_url or config.defaults.platform_repository_url or origin.ssh_url
        ),
        branch=_start_branch(args.branch, origin),
        working_directory=args.working_directory or config.defaults.working_directory,
        model=args.model or config.models.default_code,
        github_user=origin.sender,
        local_tools=args.local_tools,
        remote_tools=args.remote_tools,
        prompt_modification=args.prompt_modification,
        continue_session=args.continue_session,
        overwrite_memory=args.overwrite_memory,
    )
    name = command_run_name("CodeRun", origin.run_identity, index, args.task_id, args.service)
    extra = {"task-id": str(args.task_id), "service": args.service}
    return _manifest("CodeRun", name, namespace, origin, spec.to_manifest(), extra)


def retry_run(previous: dict[str, Any], origin: Origin, prompt_modification: str | None) -> dict[str, Any]:
    """A new run from a finished one: same spec, `contextVersion` + 1, the sender as its user, and the
    new prompt text if one was given. Its origin is the retry request's (issue, comment, delivery)."""
    kind: RunKind = previous["kind"]
    fields: dict[str, Any] = {**previous["spec"], "githubUser": origin.sender}
    if prompt_modification:
        fields["promptModification"] = prompt_modification
    extra: dict[str, str] = {}
    if kind == "CodeRun":
        fields["contextVersion"] = int(fields.get("contextVersion", 1)) + 1
        code_spec = CodeRunSpec.model_validate(fields)
        spec = code_spec.to_manifest()
        extra = {"task-id": str(code_spec.task_id), "service": code_spec.service}
        version = code_spec.context_version
    else:
        spec = DocsRunSpec.model_validate(fields).to_manifest()
        version = attempt_of(previous) + 1
    name = retry_run_name(previous["metadata"]["name"], version)
    manifest = _manifest(kind, name, previous["metadata"]["namespace"], origin, spec, extra)
    manifest["metadata"]["annotations"][LABEL_PREFIX + "retry-of"] = previous["metadata"]["name"]
    manifest["metadata"]["annotations"][LABEL_PREFIX + "attempt"] = str(version)
    return manifest


def produced(run: dict[str, Any], pull_request: Origin) -> bool:
    """Whether `run` produced the pull request `pull_request` is on (its origin, with the PR's head
    read): the PR's URL is the run's `pullRequestUrl`, or its head branch is the run's branch."""
    status = run.get("status") or {}
    url = f"{pull_request.html_url}/pull/{pull_request.issue_number}"
    if status.get("pullRequestUrl") == url:
        return True
    return pull_request.head_branch is not None and status.get("branch") == pull_request.head_branch


def attempt_of(run: dict[str, Any]) -> int:
    """A CodeRun's `contextVersion`; a DocsRun's `attempt` annotation (1 for its first run)."""
    if run.get("kind") == "CodeRun":
        return int((run.get("spec") or {}).get("contextVersion", 1))
    raw = str((run["metadata"].get("annotations") or {}).get(LABEL_PREFIX + "attempt", "1"))
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def latest(produced_runs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The run a continuation continues: the highest attempt (creation times count whole seconds),
    then the newest, then by name."""
    return max(
        produced_runs,
        key=lambda run: (
            attempt_of(run),
            run["metadata"].get("creationTimestamp", ""),
            run["metadata"]["name"],
        ),
        default=None,
    )


def continue_run(
    previous: dict[str, Any], origin: Origin, index: int, prompt: str | None, namespace: str
) -> dict[str, Any]:
    """A run that continues `previous` on the pull request it produced (`origin`, its head read):
    the same kind, model, directory and repositories (a CodeRun: task and service too, and its agent's
    session continued), the attempt + 1, starting from and pushing to the PR's head branch, with
    `prompt` as what to do; the sender is its user. Named after the event (a redelivered review or
    comment makes the same run). A DocsRun keeps no workspace, so its agent starts a new session on
    the branch the earlier run pushed."""
    kind: RunKind = previous["kind"]
    attempt = attempt_of(previous) + 1
    fields: dict[str, Any] = {
        **previous["spec"],
        "githubUser": origin.sender,
        "workBranch": origin.head_branch,
        "promptModification": prompt,
    }
    extra: dict[str, str] = {}
    if kind == "CodeRun":
        fields.update(
            contextVersion=attempt, continueSession=True, branch=origin.head_branch, promptMode="append"
        )
        code_spec = CodeRunSpec.model_validate(fields)
        spec = code_spec.to_manifest()
        name = command_run_name(kind, origin.run_identity, index, code_spec.task_id, code_spec.service)
        extra = {"task-id": str(code_spec.task_id), "service": code_spec.service}
    else:
        spec = DocsRunSpec.model_validate({**fields, "sourceBranch": origin.head_branch}).to_manifest()
        name = command_run_name(kind, origin.run_identity, index, None, None)
    manifest = _manifest(kind, name, namespace, origin, spec, extra)
    manifest["metadata"]["annotations"][LABEL_PREFIX + "continues"] = previous["metadata"]["name"]
    manifest["metadata"]["annotations"][LABEL_PREFIX + "attempt"] = str(attempt)
    return manifest
