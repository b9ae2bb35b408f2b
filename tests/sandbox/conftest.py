"""Shared fixtures for the local API server tests. The Kubernetes ones start a `LocalKubeAPI` and hand
out a kubernetes_asyncio client built from the kubeconfig it writes (helpers in kube_fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from bot.sandbox.kube import LocalKubeAPI
from tests.sandbox.kube_fixtures import api_client_for


@pytest.fixture
async def kube() -> AsyncIterator[LocalKubeAPI]:
    async with LocalKubeAPI() as server:
        yield server


@pytest.fixture
async def api(kube: LocalKubeAPI) -> AsyncIterator[client.ApiClient]:
    async with await api_client_for(kube) as api_client:
        yield api_client
