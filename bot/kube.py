"""The Kubernetes edge: kubernetes_asyncio calls the webhook service and the controller make.

Every call carries a timeout, and every failure that is the cluster's (unreachable, 5xx, timeouts) is
raised as `KubernetesUnavailable`, so the webhook can answer 503 and the controller can retry.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException
from yarl import URL

from bot.core.resources import GROUP, PLURALS, VERSION, RunKind
from bot.core.taskconfig import CONFIGMAP_KEY, CONFIGMAP_NAME, TaskConfig, TaskConfigError, parse_task_config
from bot.errors import ConfigError, KubernetesUnavailable

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 8.0
"""Below GitHub's 10 s webhook budget, so an answer (503) is always sent in time."""
MERGE_PATCH = "application/merge-patch+json"
# Custom resources answer 415 to the strategic-merge and JSON patches kubernetes_asyncio would send
# for a dict body; `_content_type` picks merge-patch. The runtime accepts it; the .pyi stubs omit it.
_AS_MERGE_PATCH: dict[str, Any] = {"_content_type": MERGE_PATCH}


CREATE_TASK_CONFIG = (
    "create it with the job settings (kubectl apply -f k8s/task-controller-config.yaml, or the chart's "
    "taskConfig values); `orchestrator-bot doctor` checks the whole deployment"
)


class TaskConfigUnavailable(KubernetesUnavailable):
    """task-controller-config is missing or invalid; nothing can run until an operator fixes it."""


async def task_config_unavailable_reason(read: Awaitable[TaskConfig], namespace: str) -> str | None:
    """For /readyz and the redelivery sweeper: None when `read` (of task-controller-config) succeeds,
    else one line saying what is wrong and what to create or fix."""
    try:
        await read
    except KubernetesUnavailable as exc:
        return f"kubernetes: {exc}"
    except ApiException as exc:
        return f"kubernetes: {exc.status} {exc.reason} reading {CONFIGMAP_NAME} in {namespace}"
    return None


@contextmanager
def kubernetes_failures(doing: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        if exc.status is not None and (exc.status >= 500 or exc.status == 429):
            raise KubernetesUnavailable(f"Kubernetes answered {exc.status} while {doing}") from None
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise KubernetesUnavailable(
            f"Kubernetes unreachable while {doing}: {exc.__class__.__name__}"
        ) from None


@asynccontextmanager
async def api_client(
    kubeconfig: Path | None, user_agent: str = "orchestrator-bot"
) -> AsyncIterator[client.ApiClient]:
    """An ApiClient from `kubeconfig`, else the in-cluster service account. `user_agent` names the
    role (and the controller's identity) in the apiserver's audit log."""
    configuration = client.Configuration()
    try:
        if kubeconfig is not None:
            await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]  # untyped upstream
    except (ConfigException, OSError) as exc:
        source = str(kubeconfig) if kubeconfig else "the in-cluster service account"
        raise ConfigError("KUBECONFIG", f"cannot load Kubernetes access from {source}: {exc}") from None
    async with client.ApiClient(configuration=configuration) as api:
        api.user_agent = user_agent
        _skip_per_request_environment_lookups(api, configuration.host or "")
        yield api


def _skip_per_request_environment_lookups(api: client.ApiClient, host: str) -> None:
    """kubernetes_asyncio's aiohttp session trusts the environment, so every call looks up ~/.netrc
    and the proxy variables in a worker thread: two thread hops per request, about a fifth of the CPU
    `serve` spends creating a run (benchmarks/README.md). When no proxy applies to the apiserver (the
    usual case) the lookups are switched off; kubeconfig, not netrc, carries the apiserver's
    credentials. With a proxy configured for it, nothing changes."""
    session = api.rest_client.pool_manager
    try:
        get_env_proxy_for_url(URL(host))
    except LookupError:
        if hasattr(session, "_trust_env"):
            session._trust_env = False


class Kube:
    """The calls the bot makes, over one ApiClient. Each API group is built (and its module imported,
    bot/kubernetes_lazy.py) on first use: `serve` never loads `CoreV1Api`, ~30 MiB of generated code
    (benchmarks/README.md), since it reads its ConfigMap and Secrets as plain objects."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @functools.cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @functools.cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @functools.cached_property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @functools.cached_property
    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api)

    async def _get_object(self, path: str, **path_params: str) -> dict[str, Any]:
        """GET one object as a plain dict: no generated model (nor its module, nor dateutil parsing
        its timestamps)."""
        found: dict[str, Any] = await self.api.call_api(
            path,
            "GET",
            path_params=path_params,
            header_params={"Accept": "application/json"},
            response_types_map={200: "object"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        return found

    async def create_run(self, manifest: dict[str, Any]) -> bool:
        """Create a run; False if it already exists (a redelivery or another replica made it)."""
        kind: RunKind = manifest["kind"]
        namespace = manifest["metadata"]["namespace"]
        with kubernetes_failures(f"creating {kind} {manifest['metadata']['name']}"):
            try:
                await self.custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURALS[kind],
                    manifest,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
        return True

    async def get_run(self, kind: RunKind, namespace: str, name: str) -> dict[str, Any] | None:
        with kubernetes_failures(f"reading {kind} {name}"):
            try:
                run: dict[str, Any] = await self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURALS[kind], name, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return run

    async def list_runs(
        self, kind: RunKind, namespace: str, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        with kubernetes_failures(f"listing {PLURALS[kind]}"):
            answer = await self.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                label_selector=label_selector,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        items: list[dict[str, Any]] = answer.get("items", [])
        return items

    async def patch_run(
        self, kind: RunKind, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch metadata/spec (custom resources refuse strategic merge and dict JSON patches)."""
        with kubernetes_failures(f"patching {kind} {name}"):
            result: dict[str, Any] = await self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
                patch,
                **_AS_MERGE_PATCH,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        return result

    async def patch_run_status(
        self, kind: RunKind, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        with kubernetes_failures(f"updating the status of {kind} {name}"):
            result: dict[str, Any] = await self.custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
                {"status": status},
                **_AS_MERGE_PATCH,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        return result

    async def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        """The data keys of a secret (never its values), or None if it does not exist.

        Read as a plain dict: building the V1Secret model parses its timestamps with dateutil, which
        cost more CPU than the rest of the call (benchmarks/README.md)."""
        with kubernetes_failures(f"reading secret {name}"):
            try:
                secret = await self._get_object(
                    "/api/v1/namespaces/{namespace}/secrets/{name}", namespace=namespace, name=name
                )
            except ApiException as exc:
                if exc.status in (403, 404):
                    return None
                raise
        return frozenset(secret.get("data") or {}) | frozenset(secret.get("stringData") or {})

    async def read_task_config(self, namespace: str) -> TaskConfig:
        with kubernetes_failures(f"reading ConfigMap {CONFIGMAP_NAME}"):
            try:
                configmap = await self._get_object(
                    "/api/v1/namespaces/{namespace}/configmaps/{name}",
                    namespace=namespace,
                    name=CONFIGMAP_NAME,
                )
            except ApiException as exc:
                if exc.status == 404:
                    raise TaskConfigUnavailable(
                        f"ConfigMap {CONFIGMAP_NAME} not found in namespace {namespace}: {CREATE_TASK_CONFIG}"
                    ) from None
                raise
        text = (configmap.get("data") or {}).get(CONFIGMAP_KEY)
        if text is None:
            raise TaskConfigUnavailable(
                f"ConfigMap {CONFIGMAP_NAME} in namespace {namespace} has no key {CONFIGMAP_KEY}: "
                f"{CREATE_TASK_CONFIG}"
            )
        try:
            return parse_task_config(text)
        except TaskConfigError as exc:
            raise TaskConfigUnavailable(
                f"ConfigMap {CONFIGMAP_NAME} in namespace {namespace} is invalid, fix it: {exc}"
            ) from None

    async def unreachable_reason(self, namespace: str) -> str | None:
        """None when the run namespace and its task-controller-config can be read, else why not."""
        return await task_config_unavailable_reason(self.read_task_config(namespace), namespace)

    # --- what the controller needs -------------------------------------------------------------

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Job as a plain dict (camelCase, like the API sends it), or None."""
        with kubernetes_failures(f"reading Job {name}"):
            try:
                job = await self.batch.read_namespaced_job(
                    name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        as_dict: dict[str, Any] = self.api.sanitize_for_serialization(job)
        return as_dict

    async def list_jobs(self, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
        """The Jobs as plain dicts (camelCase, like the API sends them)."""
        with kubernetes_failures("listing Jobs"):
            answer = await self.batch.list_namespaced_job(
                namespace, label_selector=label_selector, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        items: list[dict[str, Any]] = self.api.sanitize_for_serialization(answer).get("items", [])
        return items

    async def termination_message(self, namespace: str, job_name: str) -> str | None:
        """The first terminated container's message among the Job's Pods (the agent's JSON result)."""
        with kubernetes_failures(f"listing the Pods of Job {job_name}"):
            pods = await self.core.list_namespaced_pod(
                namespace,
                label_selector=f"batch.kubernetes.io/job-name={job_name}",
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        for pod in pods.items:
            for container in (pod.status.container_statuses if pod.status else None) or []:
                terminated = container.state.terminated if container.state else None
                if terminated is not None and terminated.message:
                    return str(terminated.message)
        return None

    async def create_if_absent(self, manifest: dict[str, Any]) -> bool:
        """Create a ConfigMap, PVC or Job; False when it already exists (409 is success)."""
        kind, namespace, name = (
            manifest["kind"],
            manifest["metadata"]["namespace"],
            manifest["metadata"]["name"],
        )
        with kubernetes_failures(f"creating {kind} {name}"):
            try:
                # The client serializes dict bodies as they are; its stubs only name the model classes.
                if kind == "ConfigMap":
                    await self.core.create_namespaced_config_map(
                        namespace,
                        cast(client.V1ConfigMap, manifest),
                        _request_timeout=REQUEST_TIMEOUT_SECONDS,
                    )
                elif kind == "PersistentVolumeClaim":
                    await self.core.create_namespaced_persistent_volume_claim(
                        namespace,
                        cast(client.V1PersistentVolumeClaim, manifest),
                        _request_timeout=REQUEST_TIMEOUT_SECONDS,
                    )
                elif kind == "Job":
                    await self.batch.create_namespaced_job(
                        namespace, cast(client.V1Job, manifest), _request_timeout=REQUEST_TIMEOUT_SECONDS
                    )
                else:
                    raise ValueError(f"create_if_absent does not create {kind}")
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
        return True

    async def delete_job(self, namespace: str, name: str) -> bool:
        """Delete a Job once its Pods are gone (foreground): while they stop, the Job still shows that
        its workspace is busy. False when it was already gone."""
        with kubernetes_failures(f"deleting Job {name}"):
            try:
                await self.batch.delete_namespaced_job(
                    name, namespace, propagation_policy="Foreground", _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise
        return True
