"""Pods made by the Job simulator and their `pods/log` subresource, read the way clients read them:
raw HTTP (status codes, error texts, chunked follow), kubernetes_asyncio, and the real kubectl."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from bot.sandbox.kube import JobOutcome, LocalKubeAPI
from bot.sandbox.kube.logs import ContainerLog, rfc3339_nano
from tests.sandbox.kube_fixtures import api_client_for, job

LINES = 10
STEP = 0.05
STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z) (.*)$")


def outcome(job_body: dict[str, Any]) -> JobOutcome:
    labels = job_body["metadata"].get("labels") or {}
    transcript = tuple((STEP * n, f"line {n}") for n in range(LINES))
    return JobOutcome(
        transcript=transcript,
        start_seconds=float(labels.get("start", "0")),
        run_seconds=float(labels.get("seconds", "0")),
        succeeded=labels.get("outcome") != "fail",
    )


@pytest.fixture
async def simulated() -> AsyncIterator[tuple[LocalKubeAPI, client.ApiClient, aiohttp.ClientSession]]:
    async with (
        LocalKubeAPI(simulate_jobs=True, job_outcome=outcome) as kube,
        await api_client_for(kube) as api,
        aiohttp.ClientSession() as session,
    ):
        yield kube, api, session


def labelled(name: str, containers: int = 1, **labels: str) -> dict[str, Any]:
    body = job(name)
    body["metadata"]["labels"] = labels
    template = body["spec"]["template"]["spec"]
    template["containers"] = [
        {"name": name_, "image": "busybox:1.36", "command": ["sh"]}
        for name_ in ["agent", "sidecar", "third"][:containers]
    ]
    return body


async def pod_of(api: client.ApiClient, job_name: str, phase: str | None = None) -> Any:
    core = client.CoreV1Api(api)
    for _ in range(200):
        pods = (await core.list_namespaced_pod("default", label_selector=f"job-name={job_name}")).items
        if pods and (phase is None or pods[0].status.phase == phase):
            return pods[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {phase or ''} Pod for Job {job_name}")


def log_url(kube: LocalKubeAPI, pod: str, **query: str) -> str:
    search = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{kube.url}/api/v1/namespaces/default/pods/{pod}/log" + (f"?{search}" if search else "")


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, Any] | None]:
    async with session.get(url) as response:
        text = await response.text()
        status = response.status
    body = None
    if response.content_type == "application/json":
        body = json.loads(text)
    return status, text, body


async def wait_for_lines(session: aiohttp.ClientSession, url: str, count: int) -> str:
    for _ in range(200):
        status, text, _ = await get(session, url)
        if status == 200 and len(text.splitlines()) >= count:
            return text
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} lines at {url}")


# --- the Pod ---------------------------------------------------------------------------------------------


async def test_pod_is_made_like_the_job_controller_makes_it(simulated: Any) -> None:
    _, api, _ = simulated
    batch = client.BatchV1Api(api)
    body = labelled("run-1", start="0.3")
    body["spec"]["template"]["metadata"] = {"labels": {"team": "a"}}
    created = await batch.create_namespaced_job("default", body)
    pod = await pod_of(api, "run-1")
    uid = created.metadata.uid
    assert {k: pod.metadata.labels[k] for k in pod.metadata.labels if k != "team"} == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "run-1",
        "controller-uid": uid,
        "job-name": "run-1",
    }
    assert pod.metadata.labels["team"] == "a"  # the template's labels
    [owner] = pod.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller, owner.block_owner_deletion) == (
        "Job",
        "run-1",
        uid,
        True,
        True,
    )
    assert [c.name for c in pod.spec.containers] == [c.name for c in created.spec.template.spec.containers]
    assert pod.spec.restart_policy == "Never" and pod.spec.node_name
    [waiting] = pod.status.container_statuses
    assert (pod.status.phase, waiting.state.waiting.reason, waiting.ready) == (
        "Pending",
        "ContainerCreating",
        False,
    )
    running = await pod_of(api, "run-1", "Running")
    assert running.status.container_statuses[0].state.running.started_at is not None
    done = await pod_of(api, "run-1", "Succeeded")
    assert done.status.container_statuses[0].state.terminated.exit_code == 0


# --- reading a log ---------------------------------------------------------------------------------------


async def test_follow_streams_every_line_as_it_comes_and_ends_with_the_container(simulated: Any) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1"))
    pod = await pod_of(api, "run-1", "Running")
    arrivals: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    async with session.get(log_url(kube, pod.metadata.name, follow="true")) as response:
        assert response.status == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.content_type == "text/plain"
        async for line in response.content:
            arrivals.append((loop.time(), line.decode().rstrip("\n")))
    assert [text for _, text in arrivals] == [f"line {n}" for n in range(LINES)]
    assert arrivals[-1][0] - arrivals[0][0] > STEP * (LINES - 3)  # they came over time, not at once
    finished = await pod_of(api, "run-1", "Succeeded")
    assert finished.status.container_statuses[0].state.terminated is not None


async def test_a_log_can_be_read_after_the_container_terminated(simulated: Any) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", outcome="fail"))
    pod = await pod_of(api, "run-1", "Failed")
    status, text, _ = await get(session, log_url(kube, pod.metadata.name))
    assert status == 200 and text == "".join(f"line {n}\n" for n in range(LINES))
    status, followed, _ = await get(session, log_url(kube, pod.metadata.name, follow="true"))
    assert (status, followed) == (200, text)  # nothing to wait for: the stream ends at once


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"tailLines": "3"}, [7, 8, 9]),
        ({"tailLines": "0"}, []),
        ({"tailLines": "100"}, list(range(LINES))),
        ({"limitBytes": "14"}, "line 0\nline 1\n"),
        ({"limitBytes": "10"}, "line 0\nlin"),
        ({"tailLines": "2", "limitBytes": "9"}, "line 8\nli"),
        ({"sinceSeconds": "3600"}, list(range(LINES))),
    ],
    ids=lambda v: str(v),
)
async def test_log_options(simulated: Any, query: dict[str, str], expected: list[int] | str) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1"))
    pod = await pod_of(api, "run-1", "Succeeded")
    status, text, _ = await get(session, log_url(kube, pod.metadata.name, **query))
    assert status == 200
    if isinstance(expected, str):
        assert text == expected
    else:
        assert text == "".join(f"line {n}\n" for n in expected)


async def test_timestamps_and_since_time(simulated: Any) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", seconds="1.2"))
    pod = await pod_of(api, "run-1", "Succeeded")
    _, text, _ = await get(session, log_url(kube, pod.metadata.name, timestamps="true"))
    stamped = [STAMPED.match(line) for line in text.splitlines()]
    assert all(stamped) and [m.group(3) for m in stamped if m] == [f"line {n}" for n in range(LINES)]
    times = [datetime.fromisoformat(m.group(1)[:26].rstrip("Z") + "+00:00") for m in stamped if m]
    assert times == sorted(times)
    # sinceTime has a second's precision: every line of that second and after it
    cut = times[5].replace(microsecond=0)
    since = cut.strftime("%Y-%m-%dT%H:%M:%SZ")
    _, after, _ = await get(session, log_url(kube, pod.metadata.name, sinceTime=since))
    assert after.splitlines() == [f"line {n}" for n, t in enumerate(times) if t >= cut]
    future = (times[-1] + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await get(session, log_url(kube, pod.metadata.name, sinceTime=future)))[1] == ""


def test_timestamps_print_as_go_prints_rfc3339nano() -> None:
    base = int(datetime(2025, 7, 1, 12, 0, 5, tzinfo=UTC).timestamp()) * 1_000_000_000
    assert rfc3339_nano(base) == "2025-07-01T12:00:05Z"
    assert rfc3339_nano(base + 120_000_000) == "2025-07-01T12:00:05.12Z"
    assert rfc3339_nano(base + 7) == "2025-07-01T12:00:05.000000007Z"


def test_a_container_log_keeps_its_last_bytes_like_the_kubelet_rotates() -> None:
    log = ContainerLog(max_bytes=20)
    for n in range(10):
        log.write(f"line {n}")  # 7 bytes each with the newline
    assert [line.text for line in log.lines] == ["line 8", "line 9"]
    assert [line.text for line in log.since(0)] == ["line 8", "line 9"]
    log.terminate()
    log.write("after the end")
    assert log.lines[-1].text == "line 9"


async def test_deleting_the_pod_ends_a_followed_stream(simulated: Any) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", seconds="30"))
    pod = await pod_of(api, "run-1", "Running")
    url = log_url(kube, pod.metadata.name, follow="true")

    async def follow() -> list[str]:
        async with session.get(url) as response:
            return [line.decode() async for line in response.content]

    reading = asyncio.create_task(follow())
    await wait_for_lines(session, log_url(kube, pod.metadata.name), 3)
    await client.CoreV1Api(api).delete_namespaced_pod(pod.metadata.name, "default")
    lines = await asyncio.wait_for(reading, 5)
    assert lines[:3] == ["line 0\n", "line 1\n", "line 2\n"]


# --- what is refused, in the apiserver's and the kubelet's words ----------------------------------------


async def test_a_waiting_container_has_no_logs_yet(simulated: Any) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", start="5"))
    pod = await pod_of(api, "run-1")
    name = pod.metadata.name
    status, _, body = await get(session, log_url(kube, name, follow="true"))
    assert status == 400 and body is not None
    assert (body["reason"], body["message"]) == (
        "BadRequest",
        f'container "agent" in pod "{name}" is waiting to start: ContainerCreating',
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "a container name must be specified for pod {pod}, choose one of: [agent sidecar]"),
        ({"container": "nope"}, "container nope is not valid for pod {pod}"),
        (
            {"container": "sidecar", "previous": "true"},
            'previous terminated container "sidecar" in pod "{pod}" not found',
        ),
        ({"tailLines": "x"}, 'strconv.ParseInt: parsing "x": invalid syntax'),
        ({"follow": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ],
    ids=["ambiguous", "unknown container", "previous", "not a number", "not a boolean"],
)
async def test_bad_requests(simulated: Any, query: dict[str, str], message: str) -> None:
    kube, api, session = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", containers=2))
    pod = await pod_of(api, "run-1", "Running")
    status, _, body = await get(session, log_url(kube, pod.metadata.name, **query))
    assert body is not None
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        message.format(pod=pod.metadata.name),
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"tailLines": "-1"}, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ({"limitBytes": "0"}, "limitBytes: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": "0"}, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        (
            {"sinceSeconds": "5", "sinceTime": "2025-01-01T00:00:00Z"},
            ": Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
    ],
    ids=["negative tail", "zero limit", "zero since", "both since"],
)
async def test_invalid_options(simulated: Any, query: dict[str, str], message: str) -> None:
    kube, _, session = simulated
    status, _, body = await get(session, log_url(kube, "any-pod", **query))
    assert body is not None
    assert (status, body["reason"], body["message"]) == (
        422,
        "Invalid",
        f'PodLogOptions "any-pod" is invalid: {message}',
    )


async def test_the_log_of_a_missing_pod_is_404(simulated: Any) -> None:
    kube, _, session = simulated
    status, _, body = await get(session, log_url(kube, "missing"))
    assert body is not None and (status, body["message"]) == (404, 'pods "missing" not found')


async def test_only_pods_have_logs_and_only_get_reads_them(simulated: Any) -> None:
    kube, _, session = simulated
    async with session.get(f"{kube.url}/api/v1/namespaces/default/configmaps/x/log") as response:
        assert response.status == 404
    async with session.post(log_url(kube, "p"), json={}) as response:
        assert response.status == 405


# --- clients ---------------------------------------------------------------------------------------------


async def test_kubernetes_asyncio_reads_and_follows_a_log(simulated: Any) -> None:
    _, api, _ = simulated
    core = client.CoreV1Api(api)
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", containers=2))
    pod = await pod_of(api, "run-1", "Running")
    response = await core.read_namespaced_pod_log(
        pod.metadata.name, "default", container="agent", follow=True, _preload_content=False
    )
    lines = [line.decode() async for line in response.content]
    assert lines == [f"line {n}\n" for n in range(LINES)]
    tail = await core.read_namespaced_pod_log(pod.metadata.name, "default", container="agent", tail_lines=2)
    assert tail == "line 8\nline 9\n"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
async def test_kubectl_logs(simulated: Any, tmp_path: Path) -> None:
    kube, api, _ = simulated
    await client.BatchV1Api(api).create_namespaced_job("default", labelled("run-1", containers=2))
    pod = (await pod_of(api, "run-1", "Running")).metadata.name
    kubectl = ["kubectl", "--kubeconfig", str(kube.kubeconfig_path), "--cache-dir", str(tmp_path / "cache")]

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *kubectl, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode(), err.decode()

    followed = await run("logs", "-f", pod, "-c", "agent")
    assert followed == (0, "".join(f"line {n}\n" for n in range(LINES)), "")
    assert await run("logs", "--tail", "2", pod, "-c", "agent") == (0, "line 8\nline 9\n", "")
    # kubectl picks the first container itself (the API would refuse to guess: test_bad_requests)
    code, out, err = await run("logs", pod)
    assert (code, out) == (0, "".join(f"line {n}\n" for n in range(LINES)))
    assert 'Defaulted container "agent" out of: agent, sidecar' in err
    code, _, err = await run("logs", pod, "-c", "nope")
    assert code == 1 and "container nope is not valid for pod" in err
