"""The controller: watch runs and their Jobs, reconcile each run, carry out the plan.

watch (list + watch from the list's resourceVersion, re-list on 410) -> de-duplicating work queue ->
`bot.core.reconcile.reconcile` (pure) -> create children / delete Job / patch status here. Only the
holder of the Lease acts, so several replicas can run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web
from kubernetes_asyncio import watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.leaderelection import electionconfig, leaderelection
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

from bot.core import jobs, render
from bot.core.reconcile import (
    DeleteJob,
    EnsureChildren,
    Observed,
    Plan,
    RequeueAfter,
    UpdateStatus,
    job_essentials,
    orphan_slot,
    reconcile,
    run_essentials,
    slot,
)
from bot.core.resources import FINISHED_PHASES, GROUP, PLURALS, VERSION, RunKind
from bot.core.schedule import Admission, Limits, Occupancy
from bot.core.taskconfig import TaskConfig
from bot.errors import KubernetesUnavailable
from bot.health import ControllerMetrics, health_app
from bot.kube import Kube, kubernetes_failures
from bot.templates import load_template_sources
from bot.workqueue import WorkQueue

log = logging.getLogger(__name__)

RunKey = tuple[RunKind, str]
RunListener = Callable[[dict[str, Any]], Awaitable[None]]
RUN_KINDS: tuple[RunKind, ...] = ("DocsRun", "CodeRun")
WATCH_TIMEOUT_SECONDS = 240
WATCH_RETRY_SECONDS = 1.0


def default_identity() -> str:
    """A replica's name in the Lease: unique even for two processes on one host."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class ControllerOptions:
    namespace: str
    templates_dir: Traversable
    """The packaged templates, or a directory (ORCHESTRATOR_TEMPLATES_DIR, the chart's mount)."""
    workers: int = 4
    resync_seconds: float = 300.0
    lease_name: str = "orchestrator-controller"
    lease_duration: int = 15
    """Whole seconds: the Lease stores leaseDurationSeconds as an integer."""
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=default_identity)
    health_port: int | None = None
    """Serve /healthz and /metrics on this port (all interfaces); None: not at all."""
    progress_seconds: float = 10.0
    """A run's status.progress is written at most this often (bot/logfollow.py)."""
    comment_edit_seconds: float = 15.0
    """The tracking comment and check run of a run are edited at most this often for progress alone."""


class Controller:
    def __init__(self, kube: Kube, config: TaskConfig, options: ControllerOptions) -> None:
        self.kube = kube
        self.config = config
        self.options = options
        self.templates = load_template_sources(options.templates_dir)
        self.template_environment = render.template_environment(self.templates)
        self.queue: WorkQueue[RunKey] = WorkQueue()
        self.metrics = ControllerMetrics()
        self.run_listeners: list[RunListener] = []
        self.leader_tasks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        """More work that only the Lease holder does (the reporter), run beside the reconcile loops."""
        self.leading = asyncio.Event()
        self.runs_seen: dict[str, dict[str, Any]] = {}
        """Every run as the watch last delivered it (for the scheduler's view of the namespace)."""
        self.jobs_seen: dict[str, dict[str, Any]] = {}
        """Every Job as the watch last delivered it, and those this process just created."""
        self.jobs_listed = asyncio.Event()
        self.occupancy = Occupancy()
        """The scheduler's index of runs_seen and jobs_seen (bot.core.schedule)."""
        self.start_lock = asyncio.Lock()
        self.health_details: dict[str, Callable[[], Any]] = {}
        """More parts of `/readyz` (the run store's writer)."""
        self._lead_task: asyncio.Task[Any] | None = None

    # --- leadership -----------------------------------------------------------------------------

    async def serve_health(self) -> web.AppRunner | None:
        """Start /healthz and /metrics if a port is set; the caller cleans the runner up."""
        if self.options.health_port is None:
            return None
        app = health_app(
            self.metrics,
            self.options.identity,
            self.leading.is_set,
            lambda: len(self.queue),
            self.health_details,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", self.options.health_port).start()
        return runner

    async def run_with_leader_election(self) -> None:
        """Campaign for the Lease forever; act only while holding it."""
        lock = LeaseLock(
            self.options.lease_name, self.options.namespace, self.options.identity, self.kube.api
        )
        try:
            await self._campaign(lock)
        finally:
            await self._release(lock)

    async def _campaign(self, lock: LeaseLock) -> None:
        while True:
            election = leaderelection.LeaderElection(
                electionconfig.Config(
                    lock,
                    lease_duration=self.options.lease_duration,
                    renew_deadline=self.options.renew_deadline,
                    retry_period=self.options.retry_period,
                    onstarted_leading=self._lead,
                    onstopped_leading=self._stop_leading,
                )
            )
            try:
                await election.run()
            except (OSError, TimeoutError, ApiException) as exc:
                log.warning("leader election interrupted: %s", exc)
            finally:
                # The library runs the leader's work as a task of its own; it must not outlive us.
                await self._stop_lead_task()
            self.leading.clear()
            await asyncio.sleep(self.options.retry_period)

    async def _release(self, lock: LeaseLock) -> None:
        """On shutdown, give the Lease up (if held) so a standby takes over at once rather than
        after the lease duration. Best effort: a failure only means the standby waits."""
        if not self.leading.is_set() and lock.lease_reference is None:
            return
        try:
            lease = await self.kube.coordination.read_namespaced_lease(
                self.options.lease_name, self.options.namespace
            )
            if lease.spec is None or lease.spec.holder_identity != self.options.identity:
                return
            lease.spec.holder_identity = ""
            lease.spec.lease_duration_seconds = 1
            await self.kube.coordination.replace_namespaced_lease(
                self.options.lease_name, self.options.namespace, lease
            )
            log.info("released the lease %s", self.options.lease_name)
        except (ApiException, OSError, TimeoutError) as exc:
            log.warning("could not release the lease %s: %s", self.options.lease_name, exc)

    async def _lead(self) -> None:
        log.info("acquired the lease %s as %s", self.options.lease_name, self.options.identity)
        self._lead_task = asyncio.current_task()
        self.leading.set()
        try:
            await self.run()
        finally:
            self.leading.clear()

    async def _stop_lead_task(self) -> None:
        task, self._lead_task = self._lead_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stop_leading(self) -> None:
        log.warning("lost the lease %s; stopping work", self.options.lease_name)
        self.leading.clear()

    # --- the loops --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch, resync and work until cancelled."""
        # A view of Jobs from an earlier term as leader is stale: decide nothing until listed anew.
        self.jobs_listed.clear()
        async with asyncio.TaskGroup() as group:
            for kind in RUN_KINDS:
                group.create_task(self._watch_runs(kind))
            group.create_task(self._watch_jobs())
            group.create_task(self._resync())
            for _ in range(self.options.workers):
                group.create_task(self._work())
            for task in self.leader_tasks:
                group.create_task(task())

    async def _watch_runs(self, kind: RunKind) -> None:
        plural = PLURALS[kind]
        while True:
            try:
                with kubernetes_failures(f"listing {plural}"):
                    listing = await self.kube.custom.list_namespaced_custom_object(
                        GROUP, VERSION, self.options.namespace, plural
                    )
                listed = listing.get("items", [])
                names = {run["metadata"]["name"] for run in listed}
                for gone in [
                    n for n, r in self.runs_seen.items() if r.get("kind") == kind and n not in names
                ]:
                    del self.runs_seen[gone]
                    self._index(gone)
                for run in listed:
                    await self._on_run(kind, run)
                version = listing["metadata"]["resourceVersion"]
                await self._follow(
                    self.kube.custom.list_namespaced_custom_object,
                    (GROUP, VERSION, self.options.namespace, plural),
                    version,
                    partial(self._on_run_event, kind),
                )
            except (KubernetesUnavailable, ApiException, OSError) as exc:
                log.warning("watch of %s interrupted: %s; listing again", plural, exc)
                await asyncio.sleep(WATCH_RETRY_SECONDS)

    async def _watch_jobs(self) -> None:
        while True:
            try:
                async with self.start_lock:
                    listed, version = await self._list_jobs()
                for job in listed:
                    self._on_job(job)
                await self._follow(
                    self.kube.batch.list_namespaced_job,
                    (self.options.namespace,),
                    version,
                    self._on_job_event,
                )
            except (KubernetesUnavailable, ApiException, OSError) as exc:
                log.warning("watch of Jobs interrupted: %s; listing again", exc)
                await asyncio.sleep(WATCH_RETRY_SECONDS)

    async def _list_jobs(self) -> tuple[list[dict[str, Any]], str]:
        """Replace the view of Jobs with a complete list (and its resourceVersion, to watch from).
        Called with the start lock held: no Job is created between the list and the new view."""
        assert self.start_lock.locked()
        with kubernetes_failures("listing Jobs"):
            listing = await self.kube.batch.list_namespaced_job(self.options.namespace)
        listed = [self.kube.api.sanitize_for_serialization(job) for job in listing.items]
        self.jobs_seen = {job["metadata"]["name"]: job_essentials(job) for job in listed}
        self._reindex()
        self.jobs_listed.set()
        return listed, listing.metadata.resource_version

    async def _follow(
        self,
        list_function: Callable[..., Any],
        args: tuple[Any, ...],
        resource_version: str,
        on_event: Callable[[dict[str, Any]], Awaitable[None] | None],
    ) -> None:
        """Watch from `resource_version`, resuming from the last seen version when the server ends the
        stream; an ApiException 410 (history expired) propagates so the caller lists again."""
        while True:
            stream = watch.Watch()
            async with stream:
                async for event in stream.stream(
                    list_function,
                    *args,
                    resource_version=resource_version,
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                ):
                    result = on_event(event)
                    if result is not None:
                        await result
                resource_version = stream.resource_version or resource_version

    async def _on_run_event(self, kind: RunKind, event: dict[str, Any]) -> None:
        if event["type"] in ("ADDED", "MODIFIED"):
            await self._on_run(kind, event["raw_object"])
        elif event["type"] == "DELETED":
            self.runs_seen.pop(event["raw_object"]["metadata"]["name"], None)
            self._index(event["raw_object"]["metadata"]["name"])
            await self._notify(event["raw_object"])

    async def _on_run(self, kind: RunKind, run: dict[str, Any]) -> None:
        self.runs_seen[run["metadata"]["name"]] = run_essentials({**run, "kind": kind})
        self._index(run["metadata"]["name"])
        self.queue.add((kind, run["metadata"]["name"]))
        await self._notify(run)

    async def _notify(self, run: dict[str, Any]) -> None:
        for listener in self.run_listeners:
            try:
                await listener(run)
            except Exception:
                log.exception("run listener failed for %s", run["metadata"].get("name"))

    def _on_job_event(self, event: dict[str, Any]) -> None:
        job = event["raw_object"]
        if event["type"] == "DELETED":
            self.jobs_seen.pop(job["metadata"]["name"], None)
        else:
            self.jobs_seen[job["metadata"]["name"]] = job_essentials(job)
        self._index(job["metadata"]["name"])
        self._on_job(job)

    def _on_job(self, job: dict[str, Any]) -> None:
        for owner in (job.get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("apiVersion") == f"{GROUP}/{VERSION}" and owner.get("kind") in RUN_KINDS:
                self.queue.add((owner["kind"], owner["name"]))

    async def _resync(self) -> None:
        """Level-triggered safety net: every run is looked at again now and then, and the job
        settings are read again so an operator's change applies without a restart."""
        while True:
            await asyncio.sleep(self.options.resync_seconds)
            try:
                scope = self.config.workspace.scope
                self.config = await self.kube.read_task_config(self.options.namespace)
                if self.config.workspace.scope != scope:
                    self._reindex()  # every CodeRun's workspace is named anew
            except KubernetesUnavailable as exc:
                log.error("keeping the last good task-controller-config: %s", exc)
            for kind in RUN_KINDS:
                try:
                    for run in await self.kube.list_runs(kind, self.options.namespace):
                        self.queue.add((kind, run["metadata"]["name"]))
                except KubernetesUnavailable as exc:
                    log.warning("resync of %s failed: %s", kind, exc)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile_one(*key)
            except KubernetesUnavailable as exc:
                delay = self.queue.retry(key)
                self.metrics.reconciles.labels("retry").inc()
                log.warning("reconcile of %s/%s will be retried in %.1f s: %s", *key, delay, exc)
            except Exception:
                delay = self.queue.retry(key)
                self.metrics.reconciles.labels("error").inc()
                log.exception("reconcile of %s/%s failed; retrying in %.1f s", *key, delay)
            else:
                self.metrics.reconciles.labels("ok").inc()
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    # --- one run ----------------------------------------------------------------------------------

    async def reconcile_one(self, kind: RunKind, name: str) -> None:
        namespace = self.options.namespace
        run = await self.kube.get_run(kind, namespace, name)
        if run is None:
            return
        job = await self.kube.get_job(namespace, name)
        finished_job = job is not None and (
            (job.get("status") or {}).get("succeeded") or (job.get("status") or {}).get("failed")
        )
        message = await self.kube.termination_message(namespace, name) if finished_job else None
        if job is not None:
            await self._carry_out(kind, run, self._plan(run, job, message, None))
            return
        # What a start needs besides its Job is made first, outside the lock (idempotent; a run that
        # turns out to wait keeps them). Deciding to start and creating the Job happen under one lock,
        # so that no other run's decision sees the workspace free in between (bot.core.schedule).
        if not self.jobs_listed.is_set():  # no watch has listed them yet (this term, or at all)
            async with self.start_lock:
                if not self.jobs_listed.is_set():
                    await self._list_jobs()
        admission = await self._admission(run)
        prepared = admission is None or admission.start
        if prepared and not await self._ensure_children(run, job=False):
            return
        async with self.start_lock:
            if not self.jobs_listed.is_set():  # a new term began meanwhile
                await self._list_jobs()
            plan = self._plan(run, job, message, await self._admission(run))
            if EnsureChildren() in plan.actions and not await self._ensure_children(
                run, render_files=not prepared
            ):
                return
        await self._carry_out(kind, run, plan)

    def _plan(
        self,
        run: dict[str, Any],
        job: dict[str, Any] | None,
        message: str | None,
        admission: Admission | None,
    ) -> Plan:
        return reconcile(
            Observed(run, job, message, datetime.now(UTC), admission),
            self.config.cleanup,
            self.config.job.active_deadline_seconds,
            self.config.scheduling.max_queue_seconds,
        )

    async def _carry_out(self, kind: RunKind, run: dict[str, Any], plan: Plan) -> None:
        """The plan's actions but creating children (done where the start lock is held)."""
        namespace, name = self.options.namespace, run["metadata"]["name"]
        for action in sorted(plan.actions, key=lambda a: isinstance(a, UpdateStatus)):
            if isinstance(action, EnsureChildren):
                continue
            if isinstance(action, DeleteJob):
                if await self.kube.delete_job(namespace, action.name):
                    log.info("deleted Job %s: %s", action.name, action.why, extra={"run": name})
            elif isinstance(action, RequeueAfter):
                self.queue.add_after((kind, name), action.seconds)
            elif isinstance(action, UpdateStatus):
                # status.progress belongs to the log follower: the copy read above may be older.
                status = {key: value for key, value in action.status.items() if key != "progress"}
                await self.kube.patch_run_status(kind, namespace, name, status)
                log.info("%s %s is %s", kind, name, action.status.get("phase"), extra={"run": name})
                if action.status.get("phase") in FINISHED_PHASES:
                    await self._wake_the_queue()

    def _index(self, name: str) -> None:
        """Bring the scheduler's slot of `name` up to date with the run and Job last seen. A Job is
        what holds a workspace, so that view must never miss one: nothing is decided before the
        first complete list of Jobs, every Job this process creates is added at once (under the start
        lock), and the watch only ever finishes or removes one later than it happened — which makes a
        workspace look busy a little longer, never free."""
        run, job = self.runs_seen.get(name), self.jobs_seen.get(name)
        seen = slot(run, job, self.config.workspace.scope) if run is not None else None
        if seen is None and job is not None:
            seen = orphan_slot(job)  # its run is gone; an unfinished Job still holds the workspace
        if seen is None:
            self.occupancy.remove(name)
        else:
            self.occupancy.put(seen)

    def _reindex(self) -> None:
        self.occupancy = Occupancy()
        for name in {*self.runs_seen, *self.jobs_seen}:
            self._index(name)

    async def _admission(self, run: dict[str, Any]) -> Admission | None:
        """Whether a run without a Job may start one now (None: it is not waiting to start). The run
        as just read counts, not the copy the watch delivered last."""
        name = run["metadata"]["name"]
        current = slot(run, self.jobs_seen.get(name), self.config.workspace.scope)
        self.occupancy.put(current)
        if current.state != "waiting":
            return None
        scheduling = self.config.scheduling
        return self.occupancy.admit(
            name, Limits(scheduling.max_active_runs, scheduling.max_active_runs_per_user)
        )

    async def _wake_the_queue(self) -> None:
        """A run ended: the runs queued behind it are looked at now, not at their next recheck."""
        for name, queued in list(self.runs_seen.items()):
            if (queued.get("status") or {}).get("phase") == "Queued":
                self.queue.add((queued["kind"], name))

    async def _ensure_children(
        self, run: dict[str, Any], job: bool = True, render_files: bool = True
    ) -> bool:
        """Create ConfigMap and PVC (code) (unless `render_files` is false: they were just made) and
        (`job`) the Job, each if absent. False when the run cannot be rendered: it is failed then (a bad
        template or config is not retried forever)."""
        try:
            children = []
            if render_files:
                context = render.build_context(run, self.config)
                files = render.render_files(run["kind"], self.templates, context, self.template_environment)
                children.append(jobs.configmap_manifest(run, files))
                if run["kind"] == "CodeRun":
                    children.append(jobs.pvc_manifest(run, self.config))
            if job:
                children.append(jobs.job_manifest(run, self.config))
        except render.RenderError as exc:
            log.error("cannot render run %s: %s", run["metadata"]["name"], exc)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            failure = {
                "phase": "Failed",
                "message": f"The run could not be rendered: {exc}",
                "lastUpdate": now,
            }
            await self.kube.patch_run_status(
                run["kind"], self.options.namespace, run["metadata"]["name"], failure
            )
            return False
        for child in children:
            if child["kind"] == "Job":
                self.jobs_seen.setdefault(child["metadata"]["name"], job_essentials(child))
                self._index(child["metadata"]["name"])
            if await self.kube.create_if_absent(child):
                log.info(
                    "created %s %s",
                    child["kind"],
                    child["metadata"]["name"],
                    extra={"run": run["metadata"]["name"]},
                )
        return True
