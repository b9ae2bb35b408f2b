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


def test_a_queue_is_full_at_its_bound_and_a_bound_of_zero_turns_is_refused() -> None:
    turns = Turns(1, max_waiting=0)
    assert turns.queue_full
    assert not Turns(1).queue_full
    assert Turns(4).max_waiting == 32
    with pytest.raises(ValueError, match="at least one"):
        Turns(0)
