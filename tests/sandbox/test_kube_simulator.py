"""The Job simulator as a controller sees it through kubernetes_asyncio: Pods, status, conditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client, watch

from bot.sandbox.kube import JobOutcome, LocalKubeAPI
from tests.sandbox.kube_fixtures import api_client_for, job


async def finished_job(batch: client.BatchV1Api, name: str, since: str | None = None) -> Any:
    """Watch the Job until a Complete or Failed condition appears; `since` (the create's
    resourceVersion) replays what happened before the watch started, so a fast Job is not missed."""
    versions = {"resource_version": since} if since else {}
    stream = watch.Watch().stream(
        batch.list_namespaced_job,
        "default",
        field_selector=f"metadata.name={name}",
        timeout_seconds=5,
        **versions,
    )
    async with stream:
        async for event in stream:
            conditions = {c.type for c in event["object"].status.conditions or []}
            if conditions & {"Complete", "Failed"}:
                return event["object"]
    raise AssertionError(f"job {name} did not finish")


@pytest.fixture
async def simulated() -> AsyncIterator[tuple[LocalKubeAPI, client.ApiClient]]:
    def outcome(job_body: dict[str, Any]) -> JobOutcome:
        labels = job_body["metadata"].get("labels") or {}
        if labels.get("outcome") == "fail":
            return JobOutcome(succeeded=False, termination_message="tests failed", run_seconds=0.05)
        return JobOutcome(
            termination_message='{"branch": "feature/task-5-trader"}',
            run_seconds=float(labels.get("seconds", "0.05")),
        )

    async with (
        LocalKubeAPI(simulate_jobs=True, job_outcome=outcome) as kube,
        await api_client_for(kube) as api,
    ):
        yield kube, api


def labelled(name: str, **labels: str) -> dict[str, Any]:
    body = job(name)
    body["metadata"]["labels"] = labels
    return body


async def test_successful_job_and_its_termination_message(
    simulated: tuple[LocalKubeAPI, client.ApiClient],
) -> None:
    _, api = simulated
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    created = await batch.create_namespaced_job("default", labelled("run-1"))
    done = await finished_job(batch, "run-1")
    assert done.status.succeeded == 1 and done.status.active is None
    assert done.status.completion_time is not None and done.status.start_time is not None
    assert [(c.type, c.reason) for c in done.status.conditions] == [
        ("SuccessCriteriaMet", "CompletionsReached"),
        ("Complete", "CompletionsReached"),
    ]
    pods = await core.list_namespaced_pod("default", label_selector="job-name=run-1")
    [pod] = pods.items
    assert pod.metadata.name.startswith("run-1-") and len(pod.metadata.name) == len("run-1-") + 5
    assert pod.metadata.labels["batch.kubernetes.io/controller-uid"] == created.metadata.uid
    assert pod.metadata.owner_references[0].uid == created.metadata.uid
    assert pod.status.phase == "Succeeded"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert terminated.message == '{"branch": "feature/task-5-trader"}'


async def test_failed_job(simulated: tuple[LocalKubeAPI, client.ApiClient]) -> None:
    _, api = simulated
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    await batch.create_namespaced_job("default", labelled("run-1", outcome="fail"))
    done = await finished_job(batch, "run-1")
    assert done.status.failed == 1
    assert [(c.type, c.reason) for c in done.status.conditions] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    [pod] = (await core.list_namespaced_pod("default", label_selector="job-name=run-1")).items
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.message) == ("Failed", 1, "tests failed")


async def test_deadline_shorter_than_the_run_fails_the_job(
    simulated: tuple[LocalKubeAPI, client.ApiClient],
) -> None:
    _, api = simulated
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    body = labelled("run-1", seconds="30")
    body["spec"]["activeDeadlineSeconds"] = 1
    await batch.create_namespaced_job("default", body)
    done = await finished_job(batch, "run-1")
    assert [(c.type, c.reason) for c in done.status.conditions] == [
        ("FailureTarget", "DeadlineExceeded"),
        ("Failed", "DeadlineExceeded"),
    ]
    assert (await core.list_namespaced_pod("default", label_selector="job-name=run-1")).items == []


async def test_deleting_a_running_job_stops_it(simulated: tuple[LocalKubeAPI, client.ApiClient]) -> None:
    _, api = simulated
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    await batch.create_namespaced_job("default", labelled("run-1", seconds="0.3"))
    await asyncio.sleep(0.1)
    running = await core.list_namespaced_pod("default", label_selector="job-name=run-1")
    assert [p.status.phase for p in running.items] == ["Running"]
    await batch.delete_namespaced_job("run-1", "default", propagation_policy="Background")
    await asyncio.sleep(0.4)
    assert (await core.list_namespaced_pod("default")).items == []
    assert (await batch.list_namespaced_job("default")).items == []


async def test_finished_hook_sees_the_job_and_outcome() -> None:
    finished: list[tuple[str, JobOutcome]] = []

    async def hook(job_body: dict[str, Any], outcome: JobOutcome) -> None:
        finished.append((job_body["metadata"]["name"], outcome))

    async with (
        LocalKubeAPI(simulate_jobs=True, on_job_finished=hook) as kube,
        await api_client_for(kube) as api,
    ):
        batch = client.BatchV1Api(api)
        await batch.create_namespaced_job("default", job("run-1"))
        await finished_job(batch, "run-1")
        await asyncio.sleep(0.05)
    assert finished == [("run-1", JobOutcome())]


async def test_ttl_after_finished_deletes_the_job(simulated: tuple[LocalKubeAPI, client.ApiClient]) -> None:
    _, api = simulated
    batch = client.BatchV1Api(api)
    created = await batch.create_namespaced_job("default", job("run-1", ttlSecondsAfterFinished=0))
    # With a TTL of 0 the Job may be gone before a fresh watch starts: replay from the create.
    await finished_job(batch, "run-1", created.metadata.resource_version)
    await asyncio.sleep(0.05)
    assert (await batch.list_namespaced_job("default")).items == []


async def test_async_outcome_with_a_failure_reason() -> None:
    async def outcome(job_body: dict[str, Any]) -> JobOutcome:
        await asyncio.sleep(0)
        return JobOutcome(succeeded=False, reason="OOMKilled", exit_code=137, run_seconds=0.01)

    async with (
        LocalKubeAPI(simulate_jobs=True, job_outcome=outcome) as kube,
        await api_client_for(kube) as api,
    ):
        batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
        await batch.create_namespaced_job("default", job("run-1"))
        done = await finished_job(batch, "run-1")
        [pod] = (await core.list_namespaced_pod("default")).items
    assert done.status.conditions[-1].type == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code, terminated.message) == ("OOMKilled", 137, None)
