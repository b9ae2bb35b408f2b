"""The controller's work queue: de-duplication, no lost adds, backoff."""

from __future__ import annotations

import asyncio

from bot.workqueue import WorkQueue


async def test_a_key_is_queued_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    assert len(queue) == 0  # not handed to a second worker while the first holds it
    queue.done(key)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_add_after_delays_and_the_earlier_wins() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 30)
    queue.add_after("a", 0.01)
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.close()


async def test_retry_backs_off_exponentially_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_backoff=0.5, max_backoff=3)
    assert [queue.retry("a") for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    queue.forget("a")
    assert queue.retry("a") == 0.5
    queue.close()
