"""Durability: distinct `/code` deliveries sent at once while `serve` is SIGKILLed at a random point and
restarted. Every acknowledged delivery already has its run; the rest are recovered by resending; in the
end each delivery has exactly one run."""

from __future__ import annotations

import os
import random

import aiohttp
from kubernetes_asyncio import client

from bot.sandbox.stack import Stack

from .conftest import ServeFactory
from .durability import durability_soak

DELIVERIES = int(os.environ.get("RELIABILITY_DURABILITY_DELIVERIES", "300"))
SEED = int(os.environ.get("RELIABILITY_SEED", str(random.SystemRandom().randrange(2**32))))


async def test_serve_killed_mid_stream_loses_no_acknowledged_delivery(
    stack: Stack, kube_api: client.ApiClient, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    serve = serve_process()
    serve.start()
    await serve.wait_ready(session)

    report = await durability_soak(stack, serve, session, kube_api, deliveries=DELIVERIES, seed=SEED)

    context = f"seed {SEED} (RELIABILITY_SEED reproduces it): {report}"
    assert report.lost_acknowledged == [], context
    assert report.acknowledged_first < DELIVERIES, f"the kill came too late to test anything; {context}"
    assert report.runs == DELIVERIES, context
    assert set(report.runs_per_delivery.values()) == {1}, context
