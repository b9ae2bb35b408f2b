"""The controller against the local Kubernetes API with the Job simulator (issue 6)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml
from kubernetes_asyncio import client

from bot.controller import Controller, ControllerOptions
from bot.core.resources import RunKind
from bot.kube import CREATE_TASK_CONFIG, Kube
from bot.sandbox.kube import JobOutcome, LocalKubeAPI
from bot.sandbox.processes import free_port
from bot.sandbox.stack import NAMESPACE, TASK_CONFIG_FILE, Stack, cluster_objects, running_stack
from bot.templates import default_templates_dir

from .conftest import api_client_for, eventually, list_runs


async def run_named(api: client.ApiClient, kind: RunKind, name: str) -> dict[str, Any] | None:
    for run in await list_runs(api, kind):
        if run["metadata"]["name"] == name:
            return run
    return None


async def start_code_run(stack: Stack, api: client.ApiClient, body: str = "/code 5 --service trader") -> str:
    status, answer = await stack.comment(issue=5, user="alice", body=body)
    assert status == 200, answer
    [done] = json.loads(answer)["done"]
    return str(done.split()[-1])


async def phase_of(api: client.ApiClient, name: str, phase: str) -> dict[str, Any] | None:
    run = await run_named(api, "CodeRun", name)
    return run if run and (run.get("status") or {}).get("phase") == phase else None


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[Stack, client.ApiClient]]:
    async with running_stack(controller=True) as stack, await api_client_for(stack) as api:
        yield stack, api


async def test_a_coderun_gets_one_configmap_one_job_and_its_workspace(
    controlled: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = controlled
    name = await start_code_run(stack, api)
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    job = await eventually(lambda: _job(batch, name), what="the Job")
    configmap = await core.read_namespaced_config_map(f"{name}-files", NAMESPACE)
    [claim] = [
        v.persistent_volume_claim.claim_name
        for v in job.spec.template.spec.volumes
        if v.persistent_volume_claim
    ]
    assert re.fullmatch(r"workspace-trader-[0-9a-f]{16}", claim)
    pvc = await core.read_namespaced_persistent_volume_claim(claim, NAMESPACE)
    assert set(configmap.data) >= {
        "container.sh",
        "CLAUDE.md",
        "settings.json",
        "prompt.md",
        "mcp.json",
        "client-config.json",
        "coding-guidelines.md",
        "github-guidelines.md",
    }
    assert pvc.spec.access_modes == ["ReadWriteOnce"]
    as_dict = {"apiVersion": "batch/v1", "kind": "Job", **api.sanitize_for_serialization(job)}
    kubernetes_validate.validate(as_dict, "1.33.0", strict=True)
    [owner] = job.metadata.owner_references
    assert (owner.kind, owner.name, owner.controller) == ("CodeRun", name, True)
    assert job.spec.template.spec.containers[0].command == [
        "/usr/bin/tini",
        "-g",
        "--",
        "/bin/bash",
        "/config/container.sh",
    ]
    jobs = await batch.list_namespaced_job(NAMESPACE)
    assert [j.metadata.name for j in jobs.items] == [name]


async def _job(batch: client.BatchV1Api, name: str) -> Any:
    jobs = await batch.list_namespaced_job(NAMESPACE, field_selector=f"metadata.name={name}")
    return jobs.items[0] if jobs.items else None


async def test_reconciling_fifty_times_makes_no_second_job_or_configmap() -> None:
    async with (
        running_stack(controller=False, simulate_jobs=False) as stack,
        await api_client_for(stack) as api,
    ):
        name = await start_code_run(stack, api)
        config = await Kube(api).read_task_config(NAMESPACE)
        controller = Controller(Kube(api), config, ControllerOptions(NAMESPACE, default_templates_dir()))
        await asyncio.gather(*(controller.reconcile_one("CodeRun", name) for _ in range(50)))
        jobs = await client.BatchV1Api(api).list_namespaced_job(NAMESPACE)
        configmaps = await client.CoreV1Api(api).list_namespaced_config_map(NAMESPACE)
        assert [job.metadata.name for job in jobs.items] == [name]
        assert sorted(cm.metadata.name for cm in configmaps.items) == [
            f"{name}-files",
            "task-controller-config",
        ]
        job_creates = [r for r in stack.kube.requests if r.method == "POST" and r.resource == "jobs"]
        assert {r.status for r in job_creates} <= {201, 409}


async def test_job_success_records_the_agents_pull_request(
    controlled: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = controlled
    # The agent's pull request is real (the reporter checks it with GitHub before keeping it).
    url = stack.gh.add_pull(stack.scene.repo, head_ref="feature/task-5-trader")["html_url"]

    def with_pull_request(job: dict[str, Any]) -> JobOutcome:
        message = json.dumps({"branch": "feature/task-5-trader", "pullRequestUrl": url})
        return JobOutcome(succeeded=True, termination_message=message, run_seconds=0.2)

    stack.default_outcome = with_pull_request
    name = await start_code_run(stack, api)
    run = await eventually(lambda: phase_of(api, name, "Succeeded"), what="Succeeded")
    assert run["status"]["pullRequestUrl"] == url
    assert run["status"]["branch"] == "feature/task-5-trader"
    assert run["status"]["jobName"] == name


async def test_failed_job_fails_the_run_with_the_reason(controlled: tuple[Stack, client.ApiClient]) -> None:
    stack, api = controlled
    stack.default_outcome = lambda job: JobOutcome(
        succeeded=False, message="claude exited with status 2", run_seconds=0.1
    )
    name = await start_code_run(stack, api)
    run = await eventually(lambda: phase_of(api, name, "Failed"), what="Failed")
    assert run["status"]["message"] == "The agent exited with an error. claude exited with status 2"


async def test_deadline_exceeded_fails_the_run() -> None:
    async with running_stack(controller=False) as stack, await api_client_for(stack) as api:
        configmap = yaml.safe_load(TASK_CONFIG_FILE.read_text())
        settings = yaml.safe_load(configmap["data"]["config.yaml"])
        settings["job"]["activeDeadlineSeconds"] = 1
        configmap["data"]["config.yaml"] = yaml.safe_dump(settings)
        stack.kube.apply_manifest(configmap)
        stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=30)
        stack.start_controller()
        name = await start_code_run(stack, api)
        run = await eventually(lambda: phase_of(api, name, "Failed"), what="Failed on deadline")
        assert (
            run["status"]["message"] == "The agent did not finish within its deadline (1 s) and was stopped."
        )


async def test_deleting_a_run_removes_its_job_and_configmap(
    controlled: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = controlled
    stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=30)
    name = await start_code_run(stack, api)
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    job = await eventually(lambda: _job(batch, name), what="the Job")
    [claim] = [
        v.persistent_volume_claim.claim_name
        for v in job.spec.template.spec.volumes
        if v.persistent_volume_claim
    ]
    await client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "orchestrator.platform", "v1", NAMESPACE, "coderuns", name
    )
    assert await _job(batch, name) is None
    configmaps = await core.list_namespaced_config_map(NAMESPACE)
    assert f"{name}-files" not in [cm.metadata.name for cm in configmaps.items]
    # The workspace outlives runs: the next run of the service finds its work.
    assert (await core.read_namespaced_persistent_volume_claim(claim, NAMESPACE)).metadata.name == claim


def _controller_process(
    kube: LocalKubeAPI, identity: str, env: dict[str, str], health_port: int, lease_seconds: int = 3
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "controller",
            "--lease-duration",
            str(lease_seconds),
            "--identity",
            identity,
            "--health-port",
            str(health_port),
        ],
        env={**env, "KUBECONFIG": str(kube.kubeconfig_path)},
        # Not a pipe: nobody reads it, and a full pipe would stop the process.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


async def _lease_holder(api: client.ApiClient) -> str | None:
    try:
        lease = await client.CoordinationV1Api(api).read_namespaced_lease(
            "orchestrator-controller", NAMESPACE
        )
    except client.ApiException:
        return None
    return str(lease.spec.holder_identity)


async def test_only_the_lease_holder_acts_and_a_standby_takes_over(bot_env: dict[str, str]) -> None:
    async with running_stack(controller=False) as stack, await api_client_for(stack) as api:
        env = {**bot_env, "GITHUB_API_URL": stack.gh.url, "GITHUB_APP_ID": str(stack.gh.app_id)}
        env["GITHUB_PRIVATE_KEY"] = stack.gh.private_key_pem
        first_port, second_port = free_port(), free_port()
        first = _controller_process(stack.kube, "first", env, first_port)
        try:
            assert await eventually(lambda: _is(api, "first"), what="first holds the Lease") == "first"
            second = _controller_process(stack.kube, "second", env, second_port)
            await eventually(lambda: _health(second_port), what="second's /healthz")
            assert (await _health(first_port)) == {"status": "ok", "identity": "first", "leading": True}
            assert (await _health(second_port)) == {"status": "ok", "identity": "second", "leading": False}
            try:
                name = await start_code_run(stack, api)
                await eventually(lambda: phase_of(api, name, "Succeeded"), what="first run done")
                writers = {
                    r.user_agent
                    for r in stack.kube.requests
                    if r.method in ("POST", "PATCH", "PUT", "DELETE")
                    and r.resource in ("jobs", "configmaps", "coderuns")
                }
                assert writers == {"orchestrator-bot-controller/first", "orchestrator-bot-serve"}
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                killed_at = asyncio.get_running_loop().time()
                await eventually(lambda: _is(api, "second"), within=10, what="second takes over")
                assert asyncio.get_running_loop().time() - killed_at < 3 + 2  # lease duration + one retry
                name = await start_code_run(stack, api, "/code 6 --service api")
                await eventually(lambda: phase_of(api, name, "Succeeded"), what="second run done")
            finally:
                second.kill()
                second.wait(timeout=10)
        finally:
            first.kill()
            first.wait(timeout=10)


async def _health(port: int) -> dict[str, Any] | None:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as answer,
        ):
            found: dict[str, Any] = await answer.json()
            return found
    except aiohttp.ClientError:
        return None


async def _is(api: client.ApiClient, identity: str) -> str | None:
    holder = await _lease_holder(api)
    return holder if holder == identity else None


async def test_controller_without_task_controller_config_refuses_to_start(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    async with LocalKubeAPI() as kube:
        for manifest in cluster_objects():
            if manifest["kind"] != "ConfigMap":
                kube.apply_manifest(manifest)
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "controller"],
            env={**bot_env, "KUBECONFIG": str(kube.kubeconfig_path), "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestrator-bot controller: ConfigMap task-controller-config not found in namespace orchestrator: "
        f"{CREATE_TASK_CONFIG} (the controller does not start without its job settings)"
    ]


async def test_finished_jobs_are_removed_after_their_ttl_and_the_run_keeps_its_status() -> None:
    async with running_stack(controller=False) as stack, await api_client_for(stack) as api:
        configmap = yaml.safe_load(TASK_CONFIG_FILE.read_text())
        settings = yaml.safe_load(configmap["data"]["config.yaml"])
        settings["cleanup"] = {"succeededTtlSeconds": 0, "failedTtlSeconds": 3600}
        configmap["data"]["config.yaml"] = yaml.safe_dump(settings)
        stack.kube.apply_manifest(configmap)
        stack.start_controller()
        name = await start_code_run(stack, api)
        await eventually(lambda: phase_of(api, name, "Succeeded"), what="Succeeded")

        async def job_gone() -> bool:
            return await _job(client.BatchV1Api(api), name) is None

        await eventually(job_gone, what="the finished Job to be deleted")
        run = await phase_of(api, name, "Succeeded")
        assert run is not None and run["status"]["branch"] == "feature/task-5-trader"


async def test_a_terminated_leader_hands_the_lease_over_at_once(bot_env: dict[str, str]) -> None:
    async with running_stack(controller=False) as stack, await api_client_for(stack) as api:
        env = {**bot_env, "GITHUB_API_URL": stack.gh.url, "GITHUB_APP_ID": str(stack.gh.app_id)}
        env["GITHUB_PRIVATE_KEY"] = stack.gh.private_key_pem
        first = _controller_process(stack.kube, "first", env, free_port(), lease_seconds=30)
        await eventually(lambda: _is(api, "first"), what="first holds the Lease")
        second_port = free_port()
        second = _controller_process(stack.kube, "second", env, second_port, lease_seconds=30)
        try:
            # A standby that is up and campaigning (its start-up, slow on a busy machine, is not timed).
            await eventually(lambda: _health(second_port), within=30, what="second's /healthz")
            first.send_signal(signal.SIGTERM)  # what Kubernetes sends before stopping a Pod

            async def exited() -> int | None:
                # Polled, not waited for: the local APIs run on this event loop and must keep answering.
                return None if first.poll() is None else first.returncode + 1

            assert await eventually(exited, within=10, what="first to exit") == 1
            stopped_at = asyncio.get_running_loop().time()
            await eventually(lambda: _is(api, "second"), within=25, what="second takes over")
            # Released, not expired: far sooner than the 30 s lease.
            assert asyncio.get_running_loop().time() - stopped_at < 15
        finally:
            for process in (first, second):
                process.kill()
                process.wait(timeout=10)
