"""Signed deliveries with the wrong shape: a 400 that names the field, never a 500, and the process stays
healthy. A table of the shapes the issue names against a real `serve` process, then a property over
generated shapes against the whole handler path (local Kubernetes and GitHub APIs behind it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from kubernetes_asyncio import client

from bot.sandbox.deliveries import encode_payload, send_webhook, webhook_headers
from bot.sandbox.stack import WEBHOOK_SECRET, Stack, running_stack

from .conftest import ServeFactory
from .observe import all_runs
from .shapes import SHAPES, Payload, base_payloads, mutations

T = TypeVar("T")


async def post(session: aiohttp.ClientSession, url: str, event: str, body: bytes) -> tuple[int, str]:
    return await send_webhook(session, url, event, body, WEBHOOK_SECRET)


async def test_every_wrong_shape_is_a_400_naming_the_field(
    stack: Stack, kube_api: client.ApiClient, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    serve = serve_process()
    serve.start()
    await serve.wait_ready(session)
    bases = base_payloads(stack)
    github_calls, kube_requests = len(stack.gh.calls), len(stack.kube.requests)

    wrong = []
    for shape in SHAPES:
        status, answer = await post(session, serve.webhook_url, shape.event, shape.body(bases[shape.event]))
        refused = json.loads(answer) if status == 400 else {}
        if (
            status != 400
            or refused.get("field") != shape.field
            or not refused["error"].startswith(shape.field)
        ):
            wrong.append((shape.id, status, answer[:200]))
    assert wrong == []

    assert serve.running
    async with session.get(f"{serve.base_url}/healthz") as response:
        assert response.status == 200
    # Refused before anything was looked up: not one call to GitHub or Kubernetes, no run.
    assert stack.gh.calls[github_calls:] == []
    assert stack.kube.requests[kube_requests:] == []
    assert await all_runs(kube_api) == []
    # ...and the same deliveries, whole, still do their job.
    status, answer = await post(
        session, serve.webhook_url, "issue_comment", encode_payload(bases["issue_comment"])
    )
    assert status == 200, answer
    assert len(await all_runs(kube_api)) == 1


class StackInThread:
    """The local APIs and an in-process `serve`, on an event loop of their own, so that a synchronous
    Hypothesis test can send it deliveries."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.exits = contextlib.AsyncExitStack()
        self.stack: Stack = self.call(self.exits.enter_async_context(running_stack(controller=False)))

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def close(self) -> None:
        try:
            self.call(self.exits.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()


@pytest.fixture(scope="module")
def threaded_stack() -> Iterator[StackInThread]:
    running = StackInThread()
    try:
        yield running
    finally:
        running.close()


def send(url: str, event: str, payload: Payload) -> tuple[int, str]:
    body = encode_payload(payload)
    headers = webhook_headers(event, body, WEBHOOK_SECRET)
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (a loopback URL)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (a loopback URL)
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


ANSWERS = {200, 202, 400, 503}
"""Handled, ignored, malformed, or GitHub/Kubernetes could not do their part (redelivered later)."""


def test_no_generated_shape_gets_a_500(threaded_stack: StackInThread) -> None:
    stack = threaded_stack.stack
    bases = base_payloads(stack)
    seen: dict[int, int] = {}

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutations(bases))
    def property_(drawn: tuple[str, Payload]) -> None:
        event, payload = drawn
        status, answer = send(stack.webhook_url, event, payload)
        seen[status] = seen.get(status, 0) + 1
        assert status in ANSWERS, (status, answer[:300])
        if status == 400:
            refused = json.loads(answer)
            assert refused["error"], answer
            assert "field" not in refused or refused["error"].startswith(refused["field"] + ":")

    property_()
    # The generator reaches both sides: shapes that are refused and shapes the handlers act on.
    assert seen.get(400) and seen.get(200), seen
    status, answer = send(stack.webhook_url, "issue_comment", stack.comment_payload(5, "alice", "/docs"))
    assert status == 200, answer
