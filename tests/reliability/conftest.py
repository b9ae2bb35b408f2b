"""Reliability fixtures: the local APIs, and the bot's roles as real processes that can be killed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client

from bot.sandbox.processes import BotProcess, stack_environment
from bot.sandbox.stack import Stack, running_stack
from tests.flows.conftest import api_client_for

ServeFactory = Callable[..., BotProcess]


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """The local APIs (and an in-process `serve`), no controller."""
    async with running_stack(controller=False) as running:
        yield running


@pytest.fixture
async def kube_api(stack: Stack) -> AsyncIterator[client.ApiClient]:
    async with await api_client_for(stack) as api:
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[BotProcess]]:
    """Every process a test starts, killed at the end whatever happened."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.close()


@pytest.fixture
def serve_process(stack: Stack, processes: list[BotProcess], tmp_path: Path) -> ServeFactory:
    """Builds (not starts) an `orchestrator-bot serve` process against the stack's local APIs."""

    def make(name: str = "serve", **env: str) -> BotProcess:
        process = BotProcess.serve(stack_environment(stack, **env), tmp_path / f"{name}.log")
        processes.append(process)
        return process

    return make
