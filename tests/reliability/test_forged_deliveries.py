"""Forged and malformed deliveries against a real `serve` process: each gets 401, 400 or 413, nothing
reaches Kubernetes or GitHub, no run starts, and the process stays healthy with bounded memory."""

from __future__ import annotations

import os

import aiohttp
from kubernetes_asyncio import client

from bot.sandbox import payloads
from bot.sandbox.deliveries import send_webhook
from bot.sandbox.stack import WEBHOOK_SECRET, Stack

from .conftest import ServeFactory
from .forged import LIMIT, MIB, forgeries, json_body, send_all
from .observe import all_runs

RSS_GROWTH_LIMIT = 48 * MIB
"""What the process may keep after the whole table: allocator slack, never the refused bodies."""
ROUNDS = int(os.environ.get("RELIABILITY_FORGED_ROUNDS", "4"))
"""Rounds of the over-sized bodies (the soak sets more)."""
PEAK_LIMIT = 2 * LIMIT + 32 * MIB
"""At most one over-sized body (and the copy `join` makes of it) is held at any moment."""


async def test_forgeries_are_refused_and_start_nothing(
    stack: Stack, kube_api: client.ApiClient, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    serve = serve_process()
    serve.start()
    await serve.wait_ready(session)
    real = stack.comment_payload(5, "alice", "/code 5 --service trader")
    other = stack.comment_payload(5, "carol", "/docs")
    table = forgeries(json_body(real), WEBHOOK_SECRET, other_body=json_body(other))
    assert len(table) >= 30
    ping = payloads.ping(app_id=stack.gh.app_id)
    assert (await send_webhook(session, serve.webhook_url, "ping", ping, WEBHOOK_SECRET))[0] == 200
    before = serve.rss_bytes()
    github_calls, kube_requests = len(stack.gh.calls), len(stack.kube.requests)

    assert await send_all(session, serve.webhook_url, table) == []

    assert serve.running
    async with session.get(f"{serve.base_url}/healthz") as response:
        assert response.status == 200
    assert serve.rss_bytes() - before < RSS_GROWTH_LIMIT
    assert serve.peak_rss_bytes() - before < PEAK_LIMIT
    # Refused before anything was looked up: not one call to GitHub or Kubernetes.
    assert stack.gh.calls[github_calls:] == []
    assert stack.kube.requests[kube_requests:] == []
    assert await all_runs(kube_api) == []
    assert WEBHOOK_SECRET not in serve.logs()
    # ...and the process still does its job.
    status, answer = await send_webhook(session, serve.webhook_url, "issue_comment", real, WEBHOOK_SECRET)
    assert status == 200, answer
    assert len(await all_runs(kube_api)) == 1


async def test_repeated_oversized_bodies_do_not_accumulate(
    stack: Stack, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    """The allocator may keep a refused body's worth of memory or two for reuse, but the refused bodies
    themselves are never kept: each round reads ~45 MiB, and the process stays within a fixed bound."""
    serve = serve_process()
    serve.start()
    await serve.wait_ready(session)
    real = stack.comment_payload(5, "alice", "/code 5 --service trader")
    table = [
        forgery
        for forgery in forgeries(json_body(real), WEBHOOK_SECRET, other_body=b"{}")
        if forgery.expected == 413 or "JSON bomb" in forgery.id
    ]
    fresh = serve.rss_bytes()
    growth = []
    for _ in range(ROUNDS):
        assert await send_all(session, serve.webhook_url, table) == []
        growth.append(serve.rss_bytes() - fresh)
    assert max(growth) < 2 * LIMIT + 16 * MIB, [f"{g / MIB:.0f} MiB" for g in growth]
