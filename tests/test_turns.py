"""Turns: a bounded number of holders, the others waiting in order; a waiter that gives up leaves no
turn behind."""

from __future__ import annotations

import asyncio

import pytest

from bot.turns import Turns


async def test_turns_bound_the_deliveries_in_flight_and_hand_over_in_order() -> None:
    turns = Turns(2)
    order: list[str] = []

    async def hold(name: str, release: asyncio.Event) -> None:
        await turns.enter()
        order.append(name)
        try:
            await release.wait()
        finally:
            turns.leave()

    releases = {name: asyncio.Event() for name in "abcd"}
    tasks = {name: asyncio.create_task(hold(name, releases[name])) for name in "abcd"}
    await asyncio.sleep(0)
    assert (order, turns.held) == (["a", "b"], 2)
    tasks["c"].cancel()  # a waiter that gives up leaves no turn behind
    await asyncio.sleep(0)
    releases["a"].set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (order, turns.held) == (["a", "b", "d"], 2)
    releases["b"].set()
    releases["d"].set()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert turns.held == 0


async def test_a_waiter_cancelled_as_it_is_handed_a_turn_passes_it_on() -> None:
    turns = Turns(1)
    await turns.enter()
    second = asyncio.create_task(turns.enter())
    third = asyncio.create_task(turns.enter())
    await asyncio.sleep(0)
    turns.leave()  # the turn goes to the second...
    second.cancel()  # ...which gives up before it runs
    await asyncio.gather(second, return_exceptions=True)
    await asyncio.wait_for(third, 1)  # the third holds it now
    assert (turns.held, second.cancelled()) == (1, True)
    turns.leave()
    assert turns.held == 0


async def test_a_waiter_cancelled_before_the_turn_comes_is_skipped() -> None:
    turns = Turns(1)
    await turns.enter()
    second = asyncio.create_task(turns.enter())
    third = asyncio.create_task(turns.enter())
    await asyncio.sleep(0)
    second.cancel()  # cancelled, but not yet run: its future is still queued
    turns.leave()
    await asyncio.gather(second, return_exceptions=True)
    await asyncio.wait_for(third, 1)
    assert (turns.held, second.cancelled()) == (1, True)
    turns.leave()
    assert turns.held == 0


def test_a_queue_is_full_at_its_bound_and_a_bound_of_zero_turns_is_refused() -> None:
    turns = Turns(1, max_waiting=0)
    assert turns.queue_full
    assert not Turns(1).queue_full
    assert Turns(4).max_waiting == 32
    with pytest.raises(ValueError, match="at least one"):
        Turns(0)
