"""The durability soak: many distinct `/code` deliveries at once while `serve` is SIGKILLed at a random
point and restarted. Whatever `serve` acknowledged must exist as a run; whatever it did not is sent again,
as GitHub's redelivery would, until every delivery has exactly one run.

    report = await durability_soak(stack, serve, session, api, deliveries=300, seed=7)
    report = await durability_soak_on_a_fresh_stack(300, seed=7, workdir=Path("/tmp/soak"))

Used by `test_durability.py` (300 deliveries; `RELIABILITY_DURABILITY_DELIVERIES` changes that) and by
the benchmarks' soaks.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from bot.sandbox.github.state import DeliveryRecord
from bot.sandbox.processes import BotProcess, stack_environment
from bot.sandbox.stack import USERS_WITH_SECRETS, Stack, running_stack
from tests.flows.conftest import api_client_for

from .observe import all_runs

DELIVERY_ANNOTATION = "orchestrator.platform/delivery"
MAX_RESEND_ROUNDS = 10


@dataclass
class DurabilityReport:
    deliveries: int
    seed: int
    killed_after_answers: int
    acknowledged_first: int
    """Deliveries `serve` answered 2xx in the first pass (before, during or after the kill)."""
    lost_acknowledged: list[str]
    """GUIDs answered 2xx that have no run: must be empty."""
    runs_before_resend: int
    """Runs stored before anything was resent: more than `acknowledged_first` when `serve` died after
    storing a run but before answering (the resend then meets 409 AlreadyExists)."""
    resend_rounds: int
    runs_per_delivery: Counter[str] = field(default_factory=Counter)
    first_pass_statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        return sum(self.runs_per_delivery.values())


def _acknowledged(record: DeliveryRecord) -> bool:
    return 200 <= record.status_code < 300


async def runs_by_delivery(api: client.ApiClient) -> Counter[str]:
    """How many runs each delivery GUID produced."""
    runs: list[dict[str, Any]] = await all_runs(api)
    return Counter(run["metadata"]["annotations"].get(DELIVERY_ANNOTATION, "") for run in runs)


async def durability_soak(
    stack: Stack,
    serve: BotProcess,
    session: aiohttp.ClientSession,
    api: client.ApiClient,
    *,
    deliveries: int,
    seed: int,
) -> DurabilityReport:
    """`serve` must be started; GitHub (the local API) delivers to it, concurrently."""
    started = time.perf_counter()
    rng = random.Random(seed)
    stack.gh.webhook_url = serve.webhook_url
    work = [
        (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            stack.comment_payload(
                5, USERS_WITH_SECRETS[i % len(USERS_WITH_SECRETS)], f"/code {i + 1} --service trader"
            ),
        )
        for i in range(deliveries)
    ]
    kill_after = rng.randint(max(1, deliveries // 10), max(1, deliveries // 2))
    answers = 0
    time_to_kill = asyncio.Event()

    async def deliver(guid: str, payload: dict[str, Any]) -> DeliveryRecord:
        nonlocal answers
        record = await stack.gh.deliver("issue_comment", payload, guid)
        answers += 1
        if answers >= kill_after:
            time_to_kill.set()
        return record

    tasks = [asyncio.ensure_future(deliver(guid, payload)) for guid, payload in work]
    await time_to_kill.wait()
    serve.kill()
    serve.start()
    await serve.wait_ready(session)
    first = list(await asyncio.gather(*tasks))

    # Every delivery `serve` acknowledged must already have its run, before any resending.
    existing = await runs_by_delivery(api)
    lost = [record.guid for record in first if _acknowledged(record) and not existing[record.guid]]

    pending = [
        (record.guid, payload)
        for record, (_, payload) in zip(first, work, strict=True)
        if not _acknowledged(record)
    ]
    rounds = 0
    while pending and rounds < MAX_RESEND_ROUNDS:
        rounds += 1
        again = await asyncio.gather(*(stack.gh.deliver("issue_comment", p, guid) for guid, p in pending))
        pending = [(r.guid, p) for r, (_, p) in zip(again, pending, strict=True) if not _acknowledged(r)]
    return DurabilityReport(
        deliveries=deliveries,
        seed=seed,
        killed_after_answers=kill_after,
        acknowledged_first=sum(_acknowledged(record) for record in first),
        lost_acknowledged=lost,
        runs_before_resend=sum(existing.values()),
        resend_rounds=rounds,
        runs_per_delivery=await runs_by_delivery(api),
        first_pass_statuses=Counter(record.status_code for record in first),
        seconds=time.perf_counter() - started,
    )


async def durability_soak_on_a_fresh_stack(deliveries: int, seed: int, workdir: Path) -> DurabilityReport:
    """The whole soak in one call (for `python -m benchmarks`): local APIs, a `serve` process, the soak."""
    async with (
        running_stack(controller=False) as stack,
        await api_client_for(stack) as api,
        aiohttp.ClientSession() as session,
    ):
        serve = BotProcess.serve(stack_environment(stack), workdir / "serve.log")
        serve.start()
        try:
            await serve.wait_ready(session)
            return await durability_soak(stack, serve, session, api, deliveries=deliveries, seed=seed)
        finally:
            serve.close()
