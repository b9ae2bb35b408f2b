"""`orchestrator-bot serve` as an operator starts it: a real process on a real port."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox.kube import LocalKubeAPI

from .conftest import WEBHOOK_SECRET
from .test_webhook import FORGED, VECTOR_BODY, VECTOR_SIGNATURE


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
async def serve_url(bot_env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    async with LocalKubeAPI() as kube:
        env = {**bot_env, "KUBECONFIG": str(kube.kubeconfig_path), "PATH": os.environ.get("PATH", "")}
        process = start_serve(port, env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(200):
                    try:
                        async with session.get(url + "/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.05)
                else:
                    process.kill()
                    pytest.fail(f"serve did not start: {process.communicate()[1]}")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


async def test_serve_answers_health_accepts_the_vector_and_rejects_forgeries(serve_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(serve_url + "/healthz") as response:
            assert response.status == 200
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "v-1",
            "X-Hub-Signature-256": VECTOR_SIGNATURE,
        }
        async with session.post(serve_url + "/webhook", data=VECTOR_BODY, headers=headers) as response:
            assert response.status == 202
        for case in FORGED:
            signature_headers, body = case.values
            headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "f-1", **signature_headers}
            async with session.post(serve_url + "/webhook", data=body, headers=headers) as response:
                assert response.status == 401, case.id
        async with session.get(serve_url + "/readyz") as response:
            # No task-controller-config and no GitHub at GITHUB_API_URL: not ready, and it says why.
            assert response.status == 503
            problems = (await response.json())["problems"]
            assert any("task-controller-config" in problem for problem in problems)


def test_signature_helper_matches_the_published_vector() -> None:
    digest = hmac.new(WEBHOOK_SECRET.encode(), VECTOR_BODY, hashlib.sha256).hexdigest()
    assert f"sha256={digest}" == VECTOR_SIGNATURE
