"""The controller's log follower on its own, against the local Kubernetes API (the real CRD, Jobs run by
the simulator, their Pods' logs over HTTP): what it writes to status.progress, and how it copes with a
container that has not started, a Pod that goes, and lines too long to keep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol

from bot.core.progress import agent_pod
from bot.core.resources import GROUP, VERSION
from bot.kube import Kube, api_client
from bot.logfollow import FollowOptions, LogFollower, _lines
from bot.sandbox.agent import recorded
from bot.sandbox.kube import JobOutcome, LocalKubeAPI
from tests.sandbox.kube_fixtures import REAL_CODERUN_CRD, coderun

RUN = "code-5-trader-1"
OUTCOMES: dict[str, JobOutcome] = {}


@pytest.fixture
async def kube() -> AsyncIterator[tuple[LocalKubeAPI, Kube]]:
    async with LocalKubeAPI(
        simulate_jobs=True, job_outcome=lambda job: OUTCOMES[job["metadata"]["name"]]
    ) as local:
        local.apply_file(REAL_CODERUN_CRD)
        async with api_client(local.kubeconfig_path, "orchestrator-bot-controller/test") as api:
            yield local, Kube(api)


def agent_job(name: str) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/managed-by": "orchestrator-bot",
        "orchestrator.platform/run": name,
        "task-type": "code",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "claude", "image": "agent:1", "command": ["sh"]}],
                },
            },
        },
    }


async def start(kube: Kube, outcome: JobOutcome) -> None:
    OUTCOMES[RUN] = outcome
    await kube.custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", "coderuns", {**coderun(RUN), "metadata": {"name": RUN}}
    )
    await kube.create_if_absent(agent_job(RUN))


async def progress_when(kube: Kube, done: Any, within: float = 15.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        run = await kube.get_run("CodeRun", "default", RUN)
        progress = ((run or {}).get("status") or {}).get("progress") or {}
        if done(progress):
            return dict(progress)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"progress never got there: {progress}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def follower(kube: tuple[LocalKubeAPI, Kube]) -> AsyncIterator[LogFollower]:
    following = LogFollower(kube[1], FollowOptions("default", status_interval=0.2, retry_seconds=0.1))
    task = asyncio.create_task(following.run())
    yield following
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_transcript_becomes_the_runs_progress(
    kube: tuple[LocalKubeAPI, Kube], follower: LogFollower
) -> None:
    await start(kube[1], JobOutcome(transcript=recorded("success", speed=4)))
    progress = await progress_when(kube[1], lambda p: p.get("ended"))
    assert (progress["todosDone"], progress["turns"], progress["lines"]) == (3, 15, 17)
    assert progress["result"]["outcome"] == "success"
    assert follower.following == 0  # the Pod's log was read to its end; its stream is closed


async def test_the_follower_waits_for_the_container_to_start(
    kube: tuple[LocalKubeAPI, Kube], follower: LogFollower
) -> None:
    await start(kube[1], JobOutcome(transcript=recorded("success", speed=8), start_seconds=0.5))
    progress = await progress_when(kube[1], lambda p: p.get("ended"))
    assert progress["lines"] == 17
    logs = [r for r in kube[0].requests if r.subresource == "log"]
    assert logs[0].status == 200  # it opened the log once the Pod said the container runs


async def test_a_container_still_waiting_is_asked_again(kube: tuple[LocalKubeAPI, Kube]) -> None:
    await start(kube[1], JobOutcome(transcript=recorded("success", speed=8), start_seconds=0.5))
    pods: list[Any] = []
    for _ in range(200):
        pods = (await kube[1].core.list_namespaced_pod("default")).items
        if pods:
            break
        await asyncio.sleep(0.02)
    target = agent_pod(kube[1].api.sanitize_for_serialization(pods[0]))
    assert target is not None and target.state == "waiting"
    following = LogFollower(kube[1], FollowOptions("default", status_interval=0.2, retry_seconds=0.1))
    await asyncio.wait_for(following._follow(replace(target, state="running")), 15)
    statuses = [r.status for r in kube[0].requests if r.subresource == "log"]
    assert statuses[0] == 400 and statuses[-1] == 200
    progress = await progress_when(kube[1], lambda p: p.get("ended"))
    assert progress["lines"] == 17


async def test_a_pod_that_goes_ends_the_log_without_a_result(
    kube: tuple[LocalKubeAPI, Kube], follower: LogFollower
) -> None:
    await start(kube[1], JobOutcome(transcript=recorded("success", speed=0.5)))
    await progress_when(kube[1], lambda p: p.get("lines", 0) >= 3)
    await kube[1].batch.delete_namespaced_job(RUN, "default", propagation_policy="Foreground")
    progress = await progress_when(kube[1], lambda p: p.get("ended"))
    assert progress["result"]["outcome"] == "failure"
    assert "without a result line" in progress["result"]["error"]


async def test_status_is_written_at_most_every_interval(kube: tuple[LocalKubeAPI, Kube]) -> None:
    following = LogFollower(kube[1], FollowOptions("default", status_interval=1.0, retry_seconds=0.1))
    task = asyncio.create_task(following.run())
    try:
        await start(kube[1], JobOutcome(transcript=recorded("success", speed=1)))
        await progress_when(kube[1], lambda p: p.get("ended"))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    writes = [r for r in kube[0].requests if r.subresource == "status" and r.method == "PATCH"]
    assert 2 <= len(writes) <= 6  # ~3 s of transcript: not one write per line (17)


async def feed(chunks: list[bytes]) -> aiohttp.StreamReader:
    reader = aiohttp.StreamReader(
        BaseProtocol(asyncio.get_running_loop()), 2**16, loop=asyncio.get_running_loop()
    )
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return reader


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\nb\n"], ["a", "b"]),
        ([b"a", b"b\nc", b"\n"], ["ab", "c"]),
        ([b"0123456789abc\nok\n"], ["01234567", "ok"]),
        ([b"01234", b"56789", b"ab\nok"], ["01234567", "ok"]),
        ([b"caf\xc3", b"\xa9\n"], ["café"]),
    ],
    ids=["whole lines", "split across chunks", "too long: cut", "too long across chunks", "UTF-8 split"],
)
async def test_lines_of_a_stream_are_bounded(chunks: list[bytes], lines: list[str]) -> None:
    assert [line async for line in _lines(await feed(chunks), max_bytes=8)] == lines
