"""Level-based reconcile: what is observed about a run and its Job -> actions and the run's status.

One function for every situation (new run, restart, resync, Job event, cancel): it looks only at the
current state, so running it twice, or after a crash, does no harm. Children have names derived from
the run, so "create" is always "create if absent".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.core.markdown import code_span
from bot.core.origin import from_annotations
from bot.core.repositories import pull_request_number
from bot.core.resources import FINISHED_PHASES, Phase
from bot.core.runs import MANAGED_BY
from bot.core.schedule import Admission, Slot, SlotState
from bot.core.taskconfig import CleanupConfig, WorkspaceScope
from bot.core.workspace import workspace_of

CANCEL_ANNOTATION = "orchestrator.platform/cancel-requested-by"
MAX_CONDITIONS = 10
_RESULT_KEYS = ("branch", "pullRequestUrl", "commit", "sessionId")
_MAX_ERROR = 500
TOOLS_REFUSED = "ToolsRefused"
QUEUE_RECHECK_SECONDS = 30.0
"""A queued run is looked at again this often, besides whenever another run's state changes."""
NO_CHANGES = "NoChanges"

JobState = Literal["absent", "pending", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class EnsureChildren:
    """Render and create the ConfigMap, the workspace PVC (code) and the Job, each if absent."""


@dataclass(frozen=True)
class DeleteJob:
    name: str
    why: str


@dataclass(frozen=True)
class UpdateStatus:
    status: dict[str, Any]


@dataclass(frozen=True)
class RequeueAfter:
    seconds: float


Action = EnsureChildren | DeleteJob | UpdateStatus | RequeueAfter


@dataclass(frozen=True)
class Observed:
    run: dict[str, Any]
    job: dict[str, Any] | None
    termination_message: str | None
    """The agent container's termination message, once the Job has finished."""
    now: datetime
    admission: Admission | None = None
    """Whether the run may start its Job now (bot.core.schedule), computed by the controller for a run
    without a Job; None: no scheduling, it may."""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)


def job_state(job: dict[str, Any] | None) -> tuple[JobState, str | None, str | None]:
    """(state, reason, message) of a Job, from its conditions first (they are final), then counters."""
    if job is None:
        return "absent", None, None
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    for kind in ("Failed", "FailureTarget"):
        if kind in conditions:
            return "failed", conditions[kind].get("reason"), conditions[kind].get("message")
    for kind in ("Complete", "SuccessCriteriaMet"):
        if kind in conditions:
            return "succeeded", None, None
    if status.get("failed"):
        return "failed", "PodFailed", None
    if status.get("succeeded"):
        return "succeeded", None, None
    if status.get("active"):
        return "running", None, None
    return "pending", None, None


@dataclass(frozen=True)
class AgentResult:
    """What the agent's script wrote to its termination message, read defensively: a value of the
    wrong type is dropped, never trusted (templates/shared/agent-steps.sh.j2 writes it)."""

    status: dict[str, str] = field(default_factory=dict)
    """Fields copied into the run's status: branch, commit, sessionId, pullRequestUrl."""
    changed: bool | None = None
    """False when the agent changed nothing (no branch pushed); None when the script did not say."""
    error: str | None = None
    denials: dict[str, int] = field(default_factory=dict)
    """Tool name -> how often the agent was refused it."""


def agent_result(termination_message: str | None, repository_html_url: str | None = None) -> AgentResult:
    """The pull request link is kept only if it is one of the run's own repository (`repository_html_url`)."""
    if not termination_message:
        return AgentResult()
    try:
        data = json.loads(termination_message)
    except (ValueError, RecursionError):
        return AgentResult()
    if not isinstance(data, dict):
        return AgentResult()
    status = {key: data[key] for key in _RESULT_KEYS if isinstance(data.get(key), str) and data[key]}
    url = status.get("pullRequestUrl", "")
    if url and pull_request_number(url, repository_html_url) is None:
        del status["pullRequestUrl"]
    changed = data.get("changed")
    error = data.get("error")
    denials = data.get("denials")
    return AgentResult(
        status=status,
        changed=changed if isinstance(changed, bool) else None,
        error=error.strip()[:_MAX_ERROR] or None if isinstance(error, str) else None,
        denials={
            str(tool)[:60]: count
            for tool, count in (denials.items() if isinstance(denials, dict) else ())
            if isinstance(count, int) and not isinstance(count, bool) and count > 0
        },
    )


def _error_message(error: str) -> str:
    """The script's error as a sentence. After `the agent failed: ` comes what the agent or the API
    said, which anyone who can influence the agent can choose: shown as inert code, never Markdown."""
    lead, sep, said = error.partition(": ")
    if sep and lead == "the agent failed":
        return f"The agent failed: {code_span(said)}."
    return error[0].upper() + error[1:] + ("" if error.endswith(".") else ".")


def _denial_note(denials: dict[str, int]) -> str:
    by_count = sorted(denials.items(), key=lambda item: -item[1])
    refused = ", ".join(f"{tool} {count}\u00d7" for tool, count in by_count)
    return f"The agent was refused {refused}: check permissions.allow in task-controller-config."


def _failure_message(reason: str | None, message: str | None, deadline: int | None) -> str:
    if reason == "DeadlineExceeded":
        return f"The agent did not finish within its deadline ({deadline} s) and was stopped."
    if reason == "BackoffLimitExceeded":
        return "The agent exited with an error." + (f" {message}" if message else "")
    return f"The Job failed ({reason or 'unknown reason'})." + (f" {message}" if message else "")


def _timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _finished_at(job: dict[str, Any]) -> datetime | None:
    status = job.get("status") or {}
    stamp = status.get("completionTime")
    if stamp is None:
        for condition in status.get("conditions") or []:
            if condition.get("type") in ("Failed", "Complete") and condition.get("status") == "True":
                stamp = condition.get("lastTransitionTime")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _with_phase(
    status: dict[str, Any], phase: Phase, message: str, reason: str, now: datetime
) -> dict[str, Any]:
    """`status` moved to `phase`, with a condition recording the transition."""
    updated = {**status, "phase": phase, "message": message}
    if status.get("phase") != phase:
        condition = {
            "type": phase,
            "status": "True",
            "lastTransitionTime": _timestamp(now),
            "reason": reason,
            "message": message,
        }
        updated["conditions"] = [*(status.get("conditions") or []), condition][-MAX_CONDITIONS:]
    return updated


def _with_condition(
    status: dict[str, Any], kind: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    """`status` with a condition of type `kind`, added once (a resync changes nothing)."""
    if any(condition.get("type") == kind for condition in status.get("conditions") or []):
        return status
    condition = {
        "type": kind,
        "status": "True",
        "lastTransitionTime": _timestamp(now),
        "reason": reason,
        "message": message,
    }
    return {**status, "conditions": [*(status.get("conditions") or []), condition][-MAX_CONDITIONS:]}


def slot(run: dict[str, Any], job: dict[str, Any] | None, scope: WorkspaceScope) -> Slot:
    """How the scheduler sees a run: active while its Job exists unfinished, waiting until it has one,
    finished once it is over (or cancelled, or being deleted, or its Job is over)."""
    metadata = run["metadata"]
    status = run.get("status") or {}
    phase = status.get("phase")
    cancelled = CANCEL_ANNOTATION in (metadata.get("annotations") or {})
    state: SlotState
    if job is not None:  # first: a Job still running holds its workspace, even for a cancelled run
        state = "finished" if job_state(job)[0] in ("succeeded", "failed") else "active"
    elif phase in FINISHED_PHASES or cancelled or metadata.get("deletionTimestamp"):
        state = "finished"
    elif status.get("jobName") and phase == "Running":
        state = "finished"  # its Job was deleted: reconcile fails it
    else:
        state = "waiting"
    spec = run.get("spec") or {}
    place = None
    parts = (spec.get("repositoryUrl"), spec.get("service"), spec.get("githubUser"))
    if run.get("kind") == "CodeRun" and all(isinstance(part, str) for part in parts):
        place = workspace_of(str(parts[0]), str(parts[1]), str(parts[2]), scope).claim_name
    created = str(metadata.get("creationTimestamp") or "")
    return Slot(metadata["name"], created, str(spec.get("githubUser", "")).lower(), place, state)


def run_essentials(run: dict[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a run between watch events: only what `slot` and the queue read
    (a namespace holds thousands of runs; their prompts and progress stay in the API server)."""
    metadata = run.get("metadata") or {}
    kept = {
        key: metadata[key] for key in ("name", "creationTimestamp", "deletionTimestamp") if key in metadata
    }
    annotations = metadata.get("annotations") or {}
    if CANCEL_ANNOTATION in annotations:
        kept["annotations"] = {CANCEL_ANNOTATION: annotations[CANCEL_ANNOTATION]}
    spec, status = run.get("spec") or {}, run.get("status") or {}
    return {
        "kind": run.get("kind"),
        "metadata": kept,
        "spec": {key: spec[key] for key in ("repositoryUrl", "service", "githubUser") if key in spec},
        "status": {key: status[key] for key in ("phase", "jobName") if key in status},
    }


def _claims(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The `persistentVolumeClaim` parts of a Job's Pod volumes (a workspace is one of them)."""
    volumes = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    return [volume["persistentVolumeClaim"] for volume in volumes if volume.get("persistentVolumeClaim")]


def job_essentials(job: dict[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a Job between watch events: what `job_state`, `orphan_slot` and
    finding its run read (not its Pod template)."""
    metadata = job.get("metadata") or {}
    kept = {key: metadata[key] for key in ("name", "creationTimestamp", "ownerReferences") if key in metadata}
    labels = metadata.get("labels") or {}
    kept["labels"] = {key: labels[key] for key in ("github-user", *MANAGED_BY) if key in labels}
    claims = [{"persistentVolumeClaim": claim} for claim in _claims(job)]
    status = job.get("status") or {}
    return {
        "metadata": kept,
        "spec": {"template": {"spec": {"volumes": claims}}},
        "status": {
            key: status[key] for key in ("conditions", "failed", "succeeded", "active") if key in status
        },
    }


def orphan_slot(job: dict[str, Any]) -> Slot | None:
    """An unfinished Job whose run is gone (deleted, its Job not yet collected) still holds its
    workspace until its Pod is gone. Another program's Job in the namespace holds nothing."""
    metadata = job.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if any(labels.get(key) != value for key, value in MANAGED_BY.items()):
        return None
    if job_state(job)[0] in ("succeeded", "failed"):
        return None
    claims = [claim.get("claimName") for claim in _claims(job)]
    created = str(metadata.get("creationTimestamp") or "")
    return Slot(
        str(metadata.get("name")),
        created,
        labels.get("github-user", ""),
        claims[0] if claims else None,
        "active",
    )


def _queued_message(admission: Admission, user: str) -> str:
    place = f"position {admission.position} in line"
    if admission.blocker == "workspace":
        return (
            f"Waiting for run `{admission.waiting_for}` to finish: one agent at a time works in a workspace"
            f" ({place})."
        )
    if admission.blocker == "maxActiveRunsPerUser":
        return (
            f"Waiting: @{user} already has as many agents running as maxActiveRunsPerUser allows ({place})."
        )
    return f"Waiting for a free slot: as many agents run as maxActiveRuns allows ({place})."


def _queued_too_long(run: dict[str, Any], now: datetime, limit: int | None) -> bool:
    created = run["metadata"].get("creationTimestamp")
    if not limit or not created:
        return False
    return now - datetime.fromisoformat(created.replace("Z", "+00:00")) > timedelta(seconds=limit)


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


def reconcile(
    observed: Observed,
    cleanup: CleanupConfig,
    deadline_seconds: int | None = None,
    max_queue_seconds: int | None = None,
) -> Plan:
    run = observed.run
    metadata = run["metadata"]
    name = metadata["name"]
    current: dict[str, Any] = dict(run.get("status") or {})
    phase = current.get("phase")
    state, reason, job_message = job_state(observed.job)
    plan = Plan()
    if metadata.get("deletionTimestamp"):
        return plan  # ownerReferences remove the children

    desired = dict(current)
    if run.get("kind") == "CodeRun":
        version = int(run["spec"].get("contextVersion", 1))
        desired.update(contextVersion=version, retryCount=version - 1)

    cancel_by = (metadata.get("annotations") or {}).get(CANCEL_ANNOTATION)
    if phase in FINISHED_PHASES:
        _clean_up_finished(observed, phase, cleanup, plan)
    elif cancel_by:
        if observed.job is not None:
            plan.actions.append(DeleteJob(name, f"cancelled by {cancel_by}"))
        desired = _with_phase(
            desired, "Cancelled", f"Cancelled by @{cancel_by}.", "CancelRequested", observed.now
        )
    elif state == "absent":
        if current.get("jobName") and phase == "Running":
            desired = _with_phase(
                desired, "Failed", "The Job was deleted before it finished.", "JobDeleted", observed.now
            )
        elif observed.admission is not None and not observed.admission.start:
            if max_queue_seconds and _queued_too_long(run, observed.now, max_queue_seconds):
                why = f"The run waited longer than {_hours(max_queue_seconds)} for its turn and was not started."
                desired = _with_phase(desired, "Failed", why, "QueueTimeout", observed.now)
            else:
                user = str((run.get("spec") or {}).get("githubUser", ""))
                message = _queued_message(observed.admission, user)
                desired = _with_phase(desired, "Queued", message, "Waiting", observed.now)
                blocked_by_run = observed.admission.blocker == "workspace"
                desired["waitingFor"] = observed.admission.waiting_for if blocked_by_run else None
                plan.actions.append(RequeueAfter(QUEUE_RECHECK_SECONDS))
        else:
            plan.actions.append(EnsureChildren())
            desired.update(jobName=name, configmapName=f"{name}-files")
            desired = _with_phase(
                desired, "Pending", "Waiting for the agent to start.", "JobCreated", observed.now
            )
    elif state in ("pending", "running"):
        desired.update(jobName=name, configmapName=f"{name}-files")
        if state == "running":
            desired = _with_phase(desired, "Running", "The agent is working.", "JobActive", observed.now)
        elif phase is None:
            desired = _with_phase(
                desired, "Pending", "Waiting for the agent to start.", "JobCreated", observed.now
            )
    else:
        repository_html_url = from_annotations(metadata.get("annotations") or {}).get("repository-html-url")
        result = agent_result(observed.termination_message, repository_html_url)
        desired.update(jobName=name, configmapName=f"{name}-files", **result.status)
        if state == "succeeded" and result.error is None:
            if result.changed is False:
                summary, why = "The agent finished without changing anything: nothing to push.", NO_CHANGES
            else:
                branch = f" and pushed `{desired['branch']}`." if "branch" in desired else "."
                summary, why = "The agent finished" + branch, "JobComplete"
            if result.denials:
                summary += " " + _denial_note(result.denials)
            desired = _with_phase(desired, "Succeeded", summary, why, observed.now)
        else:
            failure = _failure_message(reason, job_message, deadline_seconds)
            if result.error is not None and reason != "DeadlineExceeded":
                failure = _error_message(result.error)
            if "branch" in desired:
                failure += f" Its work so far is on `{desired['branch']}`."
            if result.denials:
                failure += " " + _denial_note(result.denials)
            desired = _with_phase(desired, "Failed", failure, reason or "AgentFailed", observed.now)
        if result.denials:
            desired = _with_condition(
                desired, TOOLS_REFUSED, "PermissionDenied", _denial_note(result.denials), observed.now
            )
        _clean_up_finished(observed, desired["phase"], cleanup, plan)

    # The status is merge-patched: a null removes `waitingFor` once the run no longer waits for a run.
    if desired.get("phase") != "Queued" and "waitingFor" in current:
        desired["waitingFor"] = None
    if desired.get("waitingFor", "") is None and "waitingFor" not in current:
        del desired["waitingFor"]
    if _without_timestamps(desired) != _without_timestamps(current):
        desired["lastUpdate"] = _timestamp(observed.now)
        plan.actions.insert(0, UpdateStatus(desired))
    return plan


def _clean_up_finished(observed: Observed, phase: str, cleanup: CleanupConfig, plan: Plan) -> None:
    """Finished Jobs go after a TTL (short on success, long on failure); the run keeps its status."""
    if observed.job is None:
        return
    finished = _finished_at(observed.job) or observed.now
    ttl = cleanup.succeeded_ttl_seconds if phase == "Succeeded" else cleanup.failed_ttl_seconds
    remaining = (finished + timedelta(seconds=ttl) - observed.now).total_seconds()
    if phase == "Cancelled" or remaining <= 0:
        plan.actions.append(DeleteJob(observed.run["metadata"]["name"], f"{phase.lower()} Job past its TTL"))
    else:
        plan.actions.append(RequeueAfter(remaining))


def _without_timestamps(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key != "lastUpdate"}
