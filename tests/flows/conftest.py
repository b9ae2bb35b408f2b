"""Flow fixtures: the whole stack running (local Kubernetes + GitHub APIs, serve, controller), and a
kubernetes_asyncio client built from the stack's kubeconfig for assertions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from kubernetes_asyncio import client, config

from bot.core.resources import GROUP, PLURALS, VERSION, RunKind
from bot.sandbox.stack import NAMESPACE, Stack, running_stack

T = TypeVar("T")


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """serve + local APIs, no controller: what the webhook alone does."""
    async with running_stack(controller=False) as running:
        yield running


@pytest.fixture
async def full_stack() -> AsyncIterator[Stack]:
    """serve + controller (+ reporter) + local APIs with the Job simulator."""
    async with running_stack(controller=True) as running:
        yield running


@pytest.fixture
async def kube_api(stack: Stack) -> AsyncIterator[client.ApiClient]:
    async with await api_client_for(stack) as api:
        yield api


async def api_client_for(stack: Stack) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(stack.kube.kubeconfig_path), client_configuration=configuration
    )
    return client.ApiClient(configuration)


async def list_runs(api: client.ApiClient, kind: RunKind) -> list[dict[str, Any]]:
    answer = await client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURALS[kind]
    )
    items: list[dict[str, Any]] = answer["items"]
    return items


async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float = 15.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy (the stack works asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)
