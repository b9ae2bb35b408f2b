"""The Job controller and kubelet of the local cluster, reduced to what a Job's watcher can see.

For each new Job: a Pod `<job>-<5 chars>` with the labels and ownerReference the Job controller
gives it (the Job's template: `batch.kubernetes.io/job-name`, `job-name`, `controller-uid`,
`batch.kubernetes.io/controller-uid`), its container waiting (ContainerCreating) for the outcome's
`start_seconds`, then Running, Job status active. While it runs, the container writes the outcome's
`transcript` to its log (`pods/log`), each line at its offset. After `run_seconds` (at least until
the last line) the container terminates (exit 0 + termination message, or a failure) and the Job
gets the 1.31+ condition pairs
(SuccessCriteriaMet → Complete, FailureTarget → Failed). `activeDeadlineSeconds` shorter than the run
fails the Job with DeadlineExceeded and deletes its Pod; `backoffLimit` retries failed Pods
(without back-off delays); `ttlSecondsAfterFinished` deletes finished Jobs. Deleting a Job cancels
its simulation.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.kube.cluster import Cluster
from bot.sandbox.kube.defaults import qos_class
from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.logs import ContainerLogs
from bot.sandbox.kube.meta import timestamp
from bot.sandbox.kube.resources import JOB_TYPE, POD_TYPE
from bot.sandbox.kube.store import StoredEvent

logger = logging.getLogger(__name__)
Obj = dict[str, Any]
NODE_NAME = "sandbox-node"


@dataclass(frozen=True)
class JobOutcome:
    """What a simulated Job's container does.

    `termination_message` is what it writes to its termination log (the Pod's
    `containerStatuses[0].state.terminated.message`); on failure `reason` is the container's
    termination reason ("Error", "OOMKilled"...) and `message` replaces the Job's Failed condition
    message. `run_seconds` is how long the container runs (at least until its last transcript line);
    `start_seconds` how long it waits to start (ContainerCreating). `transcript` is what the container
    prints: (seconds after it started, line) pairs.
    """

    succeeded: bool = True
    termination_message: str | None = None
    reason: str | None = None
    message: str | None = None
    run_seconds: float = 0.2
    exit_code: int | None = None
    transcript: tuple[tuple[float, str], ...] = ()
    start_seconds: float = 0.0

    @property
    def duration(self) -> float:
        """How long the container runs: `run_seconds`, or until its last line if that comes later."""
        return max(self.run_seconds, self.transcript[-1][0] if self.transcript else 0.0)


OutcomeDecider = Callable[[Obj], "JobOutcome | Awaitable[JobOutcome]"]
FinishedHook = Callable[[Obj, JobOutcome], Awaitable[None]]


def _condition(kind: str, reason: str, message: str) -> Obj:
    now = timestamp()
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _setting(values: Obj) -> Callable[[Obj], None]:
    def change(status: Obj) -> None:
        status.update(values)

    return change


class JobSimulator:
    def __init__(
        self,
        cluster: Cluster,
        decide: OutcomeDecider | None = None,
        on_finished: FinishedHook | None = None,
        *,
        logs: ContainerLogs | None = None,
    ) -> None:
        self._cluster = cluster
        self._decide = decide
        self.on_finished = on_finished
        self.logs = logs or ContainerLogs()
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._started = False
        cluster.store.add_listener(self._on_change)

    def start(self) -> None:
        """Begin simulating, including Jobs created before the event loop was running."""
        self._started = True
        for job in self._cluster.store.list_objects(JOB_TYPE.storage_key):
            if not (job.get("status") or {}).get("startTime"):
                self._begin(job)

    async def close(self) -> None:
        self._started = False
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        for run in runs:
            with contextlib.suppress(asyncio.CancelledError):
                await run
        self._runs.clear()

    def _on_change(self, event: StoredEvent) -> None:
        if event.key != JOB_TYPE.storage_key or not self._started:
            return
        uid = event.obj["metadata"]["uid"]
        if event.type == "ADDED":
            self._begin(event.obj)
        elif event.type == "DELETED" and uid in self._runs:
            self._runs.pop(uid).cancel()

    def _begin(self, job: Obj) -> None:
        uid = job["metadata"]["uid"]
        if uid in self._runs or (job.get("spec") or {}).get("suspend"):
            return
        try:
            task = asyncio.get_running_loop().create_task(self._run(copy.deepcopy(job)))
        except RuntimeError:
            return  # no loop yet: start() picks the Job up
        self._runs[uid] = task
        task.add_done_callback(lambda _: self._runs.pop(uid, None) if self._runs.get(uid) is task else None)

    async def _outcome(self, job: Obj) -> JobOutcome:
        if self._decide is None:
            return JobOutcome()
        decided = self._decide(job)
        if inspect.isawaitable(decided):
            decided = await decided
        assert isinstance(decided, JobOutcome)
        return decided

    async def _run(self, job: Obj) -> None:
        try:
            await self._simulate(job)
        except ApiError as error:  # the Job or its Pod went away under us, as on a cluster
            logger.debug("job simulation of %s stopped: %s", job["metadata"]["name"], error)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("job simulation of %s failed", job["metadata"]["name"])

    def _job_status(self, job: Obj, change: Callable[[Obj], None]) -> Obj:
        updated = self._cluster.update_status(
            JOB_TYPE, job["metadata"]["namespace"], job["metadata"]["name"], change
        )
        if updated is None:
            raise ApiError.not_found(JOB_TYPE, job["metadata"]["name"])
        return updated

    async def _simulate(self, job: Obj) -> None:
        spec = job.get("spec") or {}
        backoff_limit = int(spec.get("backoffLimit", 6))
        deadline_seconds = spec.get("activeDeadlineSeconds")
        began = time.monotonic()

        def started(status: Obj) -> None:
            status.update(
                {
                    "startTime": timestamp(),
                    "active": 1,
                    "ready": 0,
                    "terminating": 0,
                    "uncountedTerminatedPods": {},
                }
            )

        self._job_status(job, started)
        failures = 0
        while True:
            outcome = await self._outcome(job)
            pod = self._create_pod(job)
            if outcome.start_seconds:
                await asyncio.sleep(outcome.start_seconds)
            self._pod_running(pod)
            self._job_status(job, _setting({"ready": 1}))
            writer = asyncio.get_running_loop().create_task(self._write_transcript(pod, outcome))
            try:
                remaining = (
                    None if deadline_seconds is None else float(deadline_seconds) - (time.monotonic() - began)
                )
                if remaining is not None and remaining < outcome.duration:
                    await asyncio.sleep(max(remaining, 0))
                    writer.cancel()
                    self._delete_pod(pod)
                    await self._finish(
                        job,
                        outcome,
                        failures + 1,
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    )
                    return
                await asyncio.sleep(outcome.duration)
                await writer
            finally:
                writer.cancel()
            self._terminate_logs(pod)
            self._pod_terminated(pod, outcome)
            if outcome.succeeded:
                await self._finish(job, outcome, failures, None, None)
                return
            failures += 1
            if failures > backoff_limit:
                await self._finish(
                    job,
                    outcome,
                    failures,
                    "BackoffLimitExceeded",
                    outcome.message or "Job has reached the specified backoff limit",
                )
                return
            self._job_status(job, _setting({"failed": failures, "ready": 0}))

    async def _finish(
        self, job: Obj, outcome: JobOutcome, failures: int, reason: str | None, message: str | None
    ) -> None:
        def first(status: Obj) -> None:
            status.pop("active", None)  # omitted once zero, as the apiserver serializes it
            status["ready"] = 0
            if reason is None:
                status["succeeded"] = 1
                status["conditions"] = [
                    *status.get("conditions", []),
                    _condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                ]
            else:
                status["failed"] = failures
                status["conditions"] = [
                    *status.get("conditions", []),
                    _condition("FailureTarget", reason, message or ""),
                ]

        def second(status: Obj) -> None:
            if reason is None:
                status["completionTime"] = timestamp()
                status["conditions"] = [
                    *status["conditions"],
                    _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ]
            else:
                status["conditions"] = [*status["conditions"], _condition("Failed", reason, message or "")]

        self._job_status(job, first)
        finished = self._job_status(job, second)
        if self.on_finished is not None:
            try:
                await self.on_finished(finished, outcome)
            except Exception:
                logger.exception("on_job_finished hook failed for %s", job["metadata"]["name"])
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is not None:
            await asyncio.sleep(float(ttl))
            self._cluster.delete(
                JOB_TYPE,
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                propagation_policy="Foreground",
            )

    # Pods

    async def _write_transcript(self, pod: Obj, outcome: JobOutcome) -> None:
        """The agent container prints its transcript, each line at its offset from the start."""
        container = self._agent_container(pod)
        if container is None:
            return
        started = time.monotonic()
        for offset, line in outcome.transcript:
            delay = started + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.logs.write(pod, container, line)

    def _terminate_logs(self, pod: Obj) -> None:
        for container in (pod.get("spec") or {}).get("containers") or []:
            self.logs.terminate(pod, container["name"])

    @staticmethod
    def _agent_container(pod: Obj) -> str | None:
        containers = (pod.get("spec") or {}).get("containers") or []
        return str(containers[0]["name"]) if containers else None

    def _create_pod(self, job: Obj) -> Obj:
        metadata = job["metadata"]
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        template_meta = template.get("metadata") or {}
        pod_spec = template.get("spec") or {}
        pod_spec["nodeName"] = NODE_NAME
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{metadata['name']}-",
                "namespace": metadata["namespace"],
                "labels": template_meta.get("labels") or {},
                "annotations": template_meta.get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": metadata["name"],
                        "uid": metadata["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
            "status": {
                "phase": "Pending",
                "qosClass": qos_class(pod_spec),
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp()}],
                # what the kubelet reports while it pulls the image and creates the container
                "containerStatuses": [
                    {
                        "name": c["name"],
                        "image": c.get("image", ""),
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in pod_spec.get("containers") or []
                ],
            },
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return self._cluster.create(POD_TYPE, metadata["namespace"], pod, keep_status=True).body

    def _pod_status(self, pod: Obj, change: Callable[[Obj], None]) -> None:
        metadata = pod["metadata"]
        if self._cluster.update_status(POD_TYPE, metadata["namespace"], metadata["name"], change) is None:
            raise ApiError.not_found(POD_TYPE, metadata["name"])

    def _pod_running(self, pod: Obj) -> None:
        now = timestamp()
        containers = (pod.get("spec") or {}).get("containers") or []

        def running(status: Obj) -> None:
            status.update(
                {
                    "phase": "Running",
                    "hostIP": "10.0.0.10",
                    "hostIPs": [{"ip": "10.0.0.10"}],
                    "podIP": "10.244.0.10",
                    "podIPs": [{"ip": "10.244.0.10"}],
                    "startTime": now,
                    "conditions": [
                        {"type": t, "status": "True", "lastTransitionTime": now}
                        for t in (
                            "PodReadyToStartContainers",
                            "Initialized",
                            "Ready",
                            "ContainersReady",
                            "PodScheduled",
                        )
                    ],
                    "containerStatuses": [
                        {
                            "name": c["name"],
                            "image": c.get("image", ""),
                            "imageID": f"{c.get('image', '')}@sha256:" + "0" * 64,
                            "containerID": f"containerd://{pod['metadata']['uid'].replace('-', '')}{index}",
                            "ready": True,
                            "restartCount": 0,
                            "started": True,
                            "state": {"running": {"startedAt": now}},
                        }
                        for index, c in enumerate(containers)
                    ],
                }
            )

        self._pod_status(pod, running)

    def _pod_terminated(self, pod: Obj, outcome: JobOutcome) -> None:
        now = timestamp()
        exit_code = outcome.exit_code if outcome.exit_code is not None else (0 if outcome.succeeded else 1)

        def terminated(status: Obj) -> None:
            status["phase"] = "Succeeded" if outcome.succeeded else "Failed"
            for condition in status.get("conditions", []):
                if condition["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                    condition.update({"status": "False", "lastTransitionTime": now})
                    if condition["type"] != "PodReadyToStartContainers":
                        condition["reason"] = "PodCompleted"
            for container in status.get("containerStatuses", []):
                state: Obj = {
                    "exitCode": exit_code,
                    "reason": "Completed" if outcome.succeeded else (outcome.reason or "Error"),
                    "startedAt": container["state"].get("running", {}).get("startedAt", now),
                    "finishedAt": now,
                    "containerID": container["containerID"],
                }
                if outcome.termination_message is not None:
                    # The kubelet keeps at most 4096 bytes of the termination log.
                    state["message"] = outcome.termination_message.encode()[:4096].decode(errors="ignore")
                container.update({"ready": False, "started": False, "state": {"terminated": state}})

        self._pod_status(pod, terminated)

    def _delete_pod(self, pod: Obj) -> None:
        with contextlib.suppress(ApiError):
            self._cluster.delete(POD_TYPE, pod["metadata"]["namespace"], pod["metadata"]["name"])
