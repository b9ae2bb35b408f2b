"""Exactly one run per command, whatever the number of deliveries or replicas: the same delivery sent
10 times at once to two `serve` processes, and GitHub's "Redeliver" pressed days later."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from bot.github import GitHubApp
from bot.sandbox import payloads
from bot.sandbox.deliveries import send_webhook
from bot.sandbox.stack import NAMESPACE, WEBHOOK_SECRET, Stack
from tests.flows.conftest import eventually

from .conftest import ServeFactory
from .observe import all_runs

CREATED = re.compile(r'^orchestrator_runs_created_total\{kind="(\w+)"\} (\S+)$', re.MULTILINE)


async def runs_created(session: aiohttp.ClientSession, base_url: str) -> float:
    """What one replica's /metrics says it created (a 409 is not counted)."""
    async with session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    return sum(float(count) for _, count in CREATED.findall(text))


async def stays_true(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Polls `check` for `seconds`; False as soon as it fails once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await check():
            return False
        await asyncio.sleep(0.1)
    return True


async def test_the_same_delivery_ten_times_at_once_to_two_replicas_makes_one_run(
    stack: Stack, kube_api: client.ApiClient, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    replicas = [serve_process("serve-a"), serve_process("serve-b")]
    for replica in replicas:
        replica.start()
    await asyncio.gather(*(replica.wait_ready(session) for replica in replicas))
    payload = stack.comment_payload(5, "alice", "/code 5 --service trader")
    guid = str(uuid.uuid4())

    answers = await asyncio.gather(
        *(
            send_webhook(session, replicas[i % 2].webhook_url, "issue_comment", payload, WEBHOOK_SECRET, guid)
            for i in range(10)
        )
    )

    assert [status for status, _ in answers] == [200] * 10, answers
    [run] = await all_runs(kube_api)
    assert run["metadata"]["annotations"]["orchestrator.platform/delivery"] == guid
    creates = [r for r in stack.kube.requests if r.method == "POST" and r.resource == "coderuns"]
    assert sorted(r.status for r in creates) == [201] + [409] * 9
    # Both replicas raced for it; between them they counted one creation.
    created = [await runs_created(session, replica.base_url) for replica in replicas]
    assert sum(created) == 1


async def test_copies_of_a_refused_command_get_one_reply_per_replica(
    stack: Stack, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    replicas = [serve_process("serve-a"), serve_process("serve-b")]
    for replica in replicas:
        replica.start()
    await asyncio.gather(*(replica.wait_ready(session) for replica in replicas))

    def replies(issue: int) -> int:
        return sum(c["user"]["type"] == "Bot" for c in stack.gh.comments(stack.scene.repo, issue))

    # Ten copies at once to one replica: one reply (bob may not run /code).
    payload = stack.comment_payload(5, "bob", "/code 5 --service trader")
    guid = str(uuid.uuid4())
    await asyncio.gather(
        *(
            send_webhook(session, replicas[0].webhook_url, "issue_comment", payload, WEBHOOK_SECRET, guid)
            for _ in range(10)
        )
    )
    await eventually(lambda: _equals(replies(5), 1), what="the reply to bob")
    assert await stays_true(lambda: _equals(replies(5), 1), seconds=1.0)

    # Ten copies at once, split over two replicas: each replica replies at most once (see SECURITY.md).
    payload = stack.comment_payload(7, "frank", "/code 5 --service trader", on_pull_request=True)
    stack.gh.set_permission(stack.scene.repo, "frank", "write")  # a writer without an SSH secret
    guid = str(uuid.uuid4())
    await asyncio.gather(
        *(
            send_webhook(session, replicas[i % 2].webhook_url, "issue_comment", payload, WEBHOOK_SECRET, guid)
            for i in range(10)
        )
    )
    await eventually(lambda: _equals(replies(7) > 0, True), what="the reply to frank")
    assert await stays_true(lambda: _equals(replies(7) <= len(replicas), True), seconds=1.0)


async def _equals(value: object, expected: object) -> bool:
    return value == expected


async def test_a_redelivery_days_later_starts_nothing_new(
    stack: Stack, kube_api: client.ApiClient, serve_process: ServeFactory, session: aiohttp.ClientSession
) -> None:
    first = serve_process("serve-first")
    first.start()
    await first.wait_ready(session)
    stack.gh.webhook_url = first.webhook_url
    stack.start_controller()
    record = await stack.gh.deliver(
        "issue_comment", stack.comment_payload(5, "alice", "/code 5 --service trader")
    )
    assert record.status_code == 200
    [run] = await all_runs(kube_api)
    name = run["metadata"]["name"]

    async def linked() -> bool:
        [current] = await all_runs(kube_api)
        return bool((current.get("status") or {}).get("pullRequestUrl"))

    await eventually(linked, within=20, what="the run succeeded and its PR is linked")
    # Days later: the Job is long cleaned up, the replica that took the delivery is gone, and someone
    # presses "Redeliver" on GitHub (same GUID, same body) to a fresh replica with cold caches.
    await client.BatchV1Api(kube_api).delete_namespaced_job(name, NAMESPACE, propagation_policy="Background")
    first.kill()
    later = serve_process("serve-days-later")
    later.start()
    await later.wait_ready(session)
    stack.gh.webhook_url = later.webhook_url
    comments_before = stack.gh.comments(stack.scene.repo, 5)
    app = GitHubApp(
        session, app_id=stack.gh.app_id, private_key=stack.gh.private_key_pem, api_url=stack.gh.url
    )
    await app.app_client().post(
        "/app/hook/deliveries/{delivery_id}/attempts", url_vars={"delivery_id": str(record.id)}, data=b""
    )
    await stack.gh.wait_for_deliveries()

    redelivered = stack.gh.deliveries[-1]
    assert (redelivered.guid, redelivered.redelivery, redelivered.status_code) == (record.guid, True, 200)
    assert f"CodeRun {name} already existed" in redelivered.response_body
    batch = client.BatchV1Api(kube_api)

    async def nothing_new() -> bool:
        runs = await all_runs(kube_api)
        jobs = await batch.list_namespaced_job(NAMESPACE)
        return (
            [r["metadata"]["name"] for r in runs] == [name]
            and runs[0]["status"]["phase"] == "Succeeded"
            and jobs.items == []
            and stack.gh.comments(stack.scene.repo, 5) == comments_before
        )

    assert await stays_true(nothing_new, seconds=2.0)
    job_creates = [r for r in stack.kube.requests if r.method == "POST" and r.resource == "jobs"]
    assert [r.status for r in job_creates] == [201]


async def replay(stack: Stack, event: str, payload: dict[str, Any], times: int) -> list[int]:
    """GitHub delivers once; then someone who captured the request (body and signature, e.g. from a
    proxy's log) sends it again under fresh delivery ids, which the signature does not cover."""
    record = await stack.gh.deliver(event, payload)
    assert record.status_code == 200, record.response_body
    statuses = []
    for _ in range(times):
        headers = {**record.request_headers, "X-GitHub-Delivery": str(uuid.uuid4())}
        async with stack.session.post(
            stack.webhook_url, data=record.request_body, headers=headers
        ) as response:
            statuses.append(response.status)
    return statuses


async def test_a_captured_comment_replayed_under_new_delivery_ids_starts_nothing_new(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    payload = stack.comment_payload(5, "alice", "/code 5 --service trader\n/docs")
    assert await replay(stack, "issue_comment", payload, times=5) == [200] * 5
    assert sorted(run["kind"] for run in await all_runs(kube_api)) == ["CodeRun", "DocsRun"]


async def test_a_captured_label_event_replayed_under_new_delivery_ids_starts_nothing_new(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    labeled = payloads.issues_labeled(
        stack.scene.repo,
        5,
        "docs",
        "alice",
        installation_id=stack.scene.installation_id,
        api_url=stack.gh.url,
    )
    assert await replay(stack, "issues", labeled, times=5) == [200] * 5
    assert len(await all_runs(kube_api)) == 1
    # Labelling again later is a new event (the issue's `updated_at` moved): a new run.
    labeled["issue"]["updated_at"] = "2031-01-01T00:00:00Z"
    assert (await stack.gh.deliver("issues", labeled)).status_code == 200
    assert len(await all_runs(kube_api)) == 2
