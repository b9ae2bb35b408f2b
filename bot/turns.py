"""Turns: at most N deliveries worked on at once, a bounded queue of others waiting, the rest refused.

The webhook takes a turn for every delivery before it reads the body, so neither a burst nor a slow
Kubernetes can make `serve` hold more than `limit` deliveries in progress and `max_waiting` queued.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Generator

WAITING_PER_TURN = 8
"""With 8 waiting per turn (256 for 32 turns) more arrive than wait: the webhook answers them 503 with
Retry-After at once, their bodies unread, and GitHub (or the redelivery sweeper) sends them again. A
waiting delivery holds its connection and what aiohttp buffered of its body (at most ~128 KiB)."""


class Turns:
    """At most `limit` holders at once, the others wait in arrival order. What `asyncio.Semaphore`
    does, with a free turn taken without a coroutine or a future (~5 µs less per delivery in `serve`,
    benchmarks/README.md); a freed turn is handed straight to the first waiter, so the bound holds.
    With `max_waiting` waiting, the queue is full: the webhook answers 503 without reading the body."""

    def __init__(self, limit: int, max_waiting: int | None = None) -> None:
        if limit < 1:
            raise ValueError("at least one delivery must be allowed in flight")
        self.limit = limit
        self.max_waiting = max_waiting if max_waiting is not None else limit * WAITING_PER_TURN
        self.held = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def queue_full(self) -> bool:
        return len(self._waiting) >= self.max_waiting

    def enter(self) -> Awaitable[None]:
        if self.held < self.limit and not self._waiting:
            self.held += 1
            return _DONE
        return self._wait()

    async def _wait(self) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave()  # handed a turn just as it was cancelled: pass it on
            elif turn in self._waiting:  # `leave` may have dropped it already
                self._waiting.remove(turn)
            raise

    def leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the turn passes on; `held` stays
                return
        self.held -= 1


class _Done:
    """An awaitable that is already done: `await` on it costs no event-loop round."""

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_DONE = _Done()
