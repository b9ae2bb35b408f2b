"""`LocalKubeAPI`: the local apiserver as an async context manager (tests, demo) and a CLI server."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from bot.sandbox.kube.cluster import Cluster
from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.faults import Faults, RecordedRequest
from bot.sandbox.kube.kubeconfig import write_kubeconfig
from bot.sandbox.kube.logs import ContainerLogs
from bot.sandbox.kube.resources import ResourceRegistry
from bot.sandbox.kube.server import KubeHTTP
from bot.sandbox.kube.simulator import FinishedHook, JobSimulator, OutcomeDecider
from bot.sandbox.kube.store import Store

Obj = dict[str, Any]


class LocalKubeAPI:
    """A Kubernetes API server in this process, speaking the real REST protocol over http.

        async with LocalKubeAPI(simulate_jobs=True) as kube:
            await config.load_kube_config(config_file=str(kube.kubeconfig_path))

    `stop()` / `start()` stop and resume listening on the same port with all objects kept.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        simulate_jobs: bool = False,
        job_outcome: OutcomeDecider | None = None,
        kubeconfig_path: str | os.PathLike[str] | None = None,
        *,
        on_job_finished: FinishedHook | None = None,
        watch_history: int = 1000,
    ) -> None:
        self.host = host
        self._port = port
        self._store = Store(history_limit=watch_history)
        self._cluster = Cluster(self._store, ResourceRegistry())
        self.faults = Faults(_compact=self._store.compact)
        self.requests: list[RecordedRequest] = []
        self.logs = ContainerLogs()
        """Every container's output (the Job simulator writes the agent's transcript here)."""
        self._store.add_listener(self.logs.on_change)
        self._http = KubeHTTP(self._cluster, self.faults, self.requests, self.logs)
        self._simulator = (
            JobSimulator(self._cluster, job_outcome, on_job_finished, logs=self.logs)
            if simulate_jobs
            else None
        )
        self._kubeconfig_wanted = Path(kubeconfig_path) if kubeconfig_path is not None else None
        self._kubeconfig: Path | None = None
        self._kubeconfig_is_temporary = False
        self._runner: web.AppRunner | None = None

    # Where it listens

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        # A wildcard bind is reached through the loopback address.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}"

    @property
    def kubeconfig_path(self) -> Path:
        if self._kubeconfig is None:
            raise RuntimeError("LocalKubeAPI has not been started: no kubeconfig yet")
        return self._kubeconfig

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def on_job_finished(self) -> FinishedHook | None:
        return self._simulator.on_finished if self._simulator else None

    @on_job_finished.setter
    def on_job_finished(self, hook: FinishedHook | None) -> None:
        if self._simulator is None:
            raise RuntimeError("on_job_finished needs simulate_jobs=True")
        self._simulator.on_finished = hook

    # Lifecycle

    async def start(self) -> None:
        """Listen (again) on the port of the first start, keeping every object."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self._http.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        if self._kubeconfig is None:
            if self._kubeconfig_wanted is not None:
                self._kubeconfig = self._kubeconfig_wanted
            else:
                handle, name = tempfile.mkstemp(prefix="local-kube-", suffix=".kubeconfig")
                os.close(handle)
                self._kubeconfig, self._kubeconfig_is_temporary = Path(name), True
        write_kubeconfig(self._kubeconfig, self.url)
        if self._simulator is not None:
            self._simulator.start()

    async def stop(self) -> None:
        """Stop listening (open watches end, new connections are refused); state and Jobs carry on."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self._store.close_subscriptions()
            self.logs.interrupt()
            await runner.cleanup()

    async def close(self) -> None:
        """Stop for good: stop listening, end the Job simulation, remove a temporary kubeconfig."""
        await self.stop()
        if self._simulator is not None:
            await self._simulator.close()
        if self._kubeconfig_is_temporary and self._kubeconfig is not None:
            with contextlib.suppress(FileNotFoundError):
                self._kubeconfig.unlink()

    async def __aenter__(self) -> LocalKubeAPI:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    # Loading manifests (validated exactly as a request would be)

    def apply_manifest(self, manifest: Obj) -> Obj:
        """Create the object, or merge the manifest into the existing one (like `kubectl apply`)."""
        rtype = self._cluster.registry.by_kind(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        if rtype is None:
            raise ApiError.bad_request(
                f'no matches for kind "{manifest.get("kind")}" in version "{manifest.get("apiVersion")}"'
            )
        metadata = manifest.get("metadata") or {}
        namespace = (metadata.get("namespace") or "default") if rtype.namespaced else ""
        name = str(metadata.get("name") or "")
        existing = self._store.get(rtype.storage_key, namespace, name) if name else None
        if existing is None:
            return self._cluster.create(rtype, namespace, manifest).body
        content_type = (
            "application/merge-patch+json" if rtype.is_custom else "application/strategic-merge-patch+json"
        )
        return self._cluster.patch(rtype, namespace, name, content_type, manifest).body

    def apply_file(self, path: str | os.PathLike[str]) -> list[Obj]:
        """Apply every document of a YAML or JSON file (a `kind: List` is unpacked)."""
        applied: list[Obj] = []
        for document in yaml.safe_load_all(Path(path).read_text()):
            if not document:
                continue
            items = document.get("items", []) if document.get("kind") == "List" else [document]
            applied.extend(self.apply_manifest(item) for item in items)
        return applied
