"""The redelivery sweeper: deliveries GitHub recorded as failed while Kubernetes was down are sent again,
once each, and become exactly one run each. GitHub's side is the local GitHub API's delivery log
(`gh.deliver` signs, sends and records; `POST .../attempts` redelivers with the same GUID)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes_asyncio import client

from bot.github import GitHubApp, Sleep
from bot.kube import Kube
from bot.redelivery import MAX_PER_SWEEP, PAGE_SIZE, RedeliverySweeper, sweeper_for
from bot.sandbox.github import Fault
from bot.sandbox.github.state import DeliveryRecord
from bot.sandbox.stack import Stack
from tests.flows.conftest import eventually

from .observe import all_runs

USERS = ("alice", "carol", "erin")
WINDOW = timedelta(hours=6)


def sweeper_for_stack(
    stack: Stack,
    api: client.ApiClient,
    *,
    max_per_sweep: int = MAX_PER_SWEEP,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Sleep = asyncio.sleep,
) -> RedeliverySweeper:
    """The sweeper exactly as `controller` builds it (`sweeper_for`: App credentials, the settings'
    window and interval, Kubernetes readiness), with the bounds, clock and sleep a test chooses; `sleep`
    serves both the client's retry backoff and the loop's interval."""
    github = GitHubApp(
        stack.session,
        app_id=stack.gh.app_id,
        private_key=stack.gh.private_key_pem,
        api_url=stack.gh.url,
        sleep=sleep,
    )
    sweeper = sweeper_for(stack.settings, github, Kube(api))
    assert (sweeper.window, sweeper.interval) == (WINDOW, 60.0)  # the defaults
    return replace(sweeper, max_per_sweep=max_per_sweep, page_size=page_size, clock=clock, sleep=sleep)


async def deliver_during_outage(stack: Stack, count: int) -> list[DeliveryRecord]:
    """`count` distinct `/code` comments, delivered by GitHub while the Kubernetes API is down."""
    payloads = [
        stack.comment_payload(5, USERS[i % len(USERS)], f"/code {i + 1} --service trader")
        for i in range(count)
    ]
    await stack.kube.stop()
    try:
        records = await asyncio.gather(*(stack.gh.deliver("issue_comment", p) for p in payloads))
    finally:
        await stack.kube.start()
    assert [record.status_code for record in records] == [503] * count
    return list(records)


def listings(stack: Stack) -> int:
    return sum(call.operation_id == "apps/list-webhook-deliveries" for call in stack.gh.calls)


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum


def redelivery_requests(stack: Stack) -> int:
    return sum(call.operation_id == "apps/redeliver-webhook-delivery" for call in stack.gh.calls)


async def test_twenty_deliveries_lost_to_a_kubernetes_outage_become_twenty_runs(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    lost = await deliver_during_outage(stack, 20)
    sweeper = sweeper_for_stack(stack, kube_api)

    asked = await sweeper.sweep()
    await stack.gh.wait_for_deliveries()

    assert sorted(d.guid for d in asked) == sorted(r.guid for r in lost)
    runs = await all_runs(kube_api)
    assert len(runs) == 20
    assert len({run["metadata"]["name"] for run in runs}) == 20
    delivered = sorted(run["metadata"]["annotations"]["orchestrator.platform/delivery"] for run in runs)
    assert delivered == sorted(r.guid for r in lost)
    redelivered = [d for d in stack.gh.deliveries if d.redelivery]
    assert len(redelivered) == 20
    assert {d.status_code for d in redelivered} == {200}
    # Recovered: the next sweeps ask for nothing, and GitHub was asked once per GUID.
    assert await sweeper.sweep() == []
    assert await sweeper_for_stack(stack, kube_api).sweep() == []
    assert redelivery_requests(stack) == 20
    assert len(await all_runs(kube_api)) == 20


async def test_no_sweep_while_kubernetes_is_still_down(stack: Stack, kube_api: client.ApiClient) -> None:
    lost = await deliver_during_outage(stack, 3)
    await stack.kube.stop()
    sweeper = sweeper_for_stack(stack, kube_api)
    assert await sweeper.sweep() == []
    assert redelivery_requests(stack) == 0
    assert sweeper.requested == set()
    await stack.kube.start()
    assert len(await sweeper.sweep()) == len(lost)
    await stack.gh.wait_for_deliveries()
    assert len(await all_runs(kube_api)) == 3


async def test_each_guid_is_asked_for_once_per_process_and_a_few_per_sweep(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    lost = await deliver_during_outage(stack, 10)
    sweeper = sweeper_for_stack(stack, kube_api, max_per_sweep=4, page_size=3)
    # The first redelivery fails again (Kubernetes refuses one create).
    stack.kube.faults.fail(method="POST", path_contains="/coderuns", status=500, times=1)

    sizes = []
    for _ in range(4):
        sizes.append(len(await sweeper.sweep()))
        await stack.gh.wait_for_deliveries()
    assert sizes == [4, 4, 2, 0]
    assert len(await all_runs(kube_api)) == 9
    [failed_again] = [d for d in stack.gh.deliveries if d.redelivery and d.status_code == 503]
    assert failed_again.guid in {record.guid for record in lost[:4]}  # oldest first
    assert redelivery_requests(stack) == 10  # this process never asks for a GUID twice
    listings = [c for c in stack.gh.calls if c.operation_id == "apps/list-webhook-deliveries"]
    assert len(listings) > 4 and any("cursor" in c.query for c in listings)  # pages of 3 followed

    # A restarted controller asks once more for what is still not recovered.
    restarted = sweeper_for_stack(stack, kube_api)
    assert [d.guid for d in await restarted.sweep()] == [failed_again.guid]
    await stack.gh.wait_for_deliveries()
    assert len(await all_runs(kube_api)) == 10


async def test_failures_older_than_the_window_are_left_alone(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    await deliver_during_outage(stack, 3)
    hours_later = datetime.now(UTC) + WINDOW + timedelta(minutes=1)
    sweeper = sweeper_for_stack(stack, kube_api, clock=lambda: hours_later)
    listed = len(stack.gh.calls)
    assert await sweeper.sweep() == []
    assert redelivery_requests(stack) == 0
    # Newest first: the listing stopped at the first item past the window (one page).
    assert [c.operation_id for c in stack.gh.calls[listed:]] == ["apps/list-webhook-deliveries"]


async def test_the_controller_role_sweeps_under_its_lease(stack: Stack, kube_api: client.ApiClient) -> None:
    lost = await deliver_during_outage(stack, 3)
    stack.settings.orchestrator.redelivery_interval_seconds = 0.5
    stack.start_controller()
    try:

        async def recovered() -> int | None:
            count = len(await all_runs(kube_api))
            return count if count == len(lost) else None

        await eventually(recovered, within=20, what="the controller's sweeper recovers the deliveries")
        sweeps_so_far = listings(stack)
        await eventually(
            lambda: _at_least(listings(stack), sweeps_so_far + 2), what="two more sweeps"
        )  # nothing is asked for twice
        assert redelivery_requests(stack) == len(lost)
        assert len(await all_runs(kube_api)) == len(lost)
    finally:
        await stack.stop_controller()


async def test_a_failed_sweep_is_logged_and_the_loop_goes_on(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    await deliver_during_outage(stack, 2)
    # GitHub fails the listing more often than the client retries (5 attempts).
    stack.gh.faults.add(Fault(method="GET", path_pattern="/app/hook/deliveries", status=500, times=5))
    slept: list[float] = []

    async def clock_sleep(seconds: float) -> None:
        slept.append(seconds)
        if slept.count(60.0) == 3:
            raise asyncio.CancelledError  # three intervals are enough

    sweeper = sweeper_for_stack(stack, kube_api, sleep=clock_sleep)
    with pytest.raises(asyncio.CancelledError):
        await sweeper.run()
    await stack.gh.wait_for_deliveries()
    assert slept.count(60.0) == 3
    assert len(await all_runs(kube_api)) == 2
    assert redelivery_requests(stack) == 2
