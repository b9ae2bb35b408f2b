"""The load generator: signed deliveries over keep-alive loopback connections, at a fixed concurrency.

An aiohttp client on one core tops out near 7.5k requests/s, below what a minimal server answers
(BENCHMARKING.md), so the default client is a small HTTP/1.1 client on asyncio's Protocol API that
writes pre-built request bytes and parses only the status line, Content-Length and chunked bodies.
`client="aiohttp"` sends the same requests through aiohttp, to cross-check the raw client.

Every cell is bounded in count (the requests given) and in time (`max_seconds`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from bot.sandbox.deliveries import webhook_headers

Client = Literal["raw", "aiohttp"]
_GUID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
CREATED = b'"done": ["created '


DISTINCT_BODIES = 5000
"""Bodies built per cell when each delivery must be a different event; requests beyond that reuse them
in turn. More than our serve answers to `/code` in a cell, so every one of its answers is a new run."""


@dataclass(frozen=True)
class Workload:
    """One kind of delivery: an event name and its body, each body signed once.

    With `unique`, a number written in `body` (the comment id), every body built gets a fresh number
    of the same width in its place: GitHub never sends one comment twice, and our serve names runs
    after the comment id, so a repeated comment would measure the "already exists" path instead."""

    name: str
    event: str
    body: bytes
    secret: str
    unique: bytes | None = None
    _serial: Iterator[int] = field(default_factory=itertools.count, compare=False, repr=False)

    def bodies(self, count: int) -> list[bytes]:
        if self.unique is None:
            return [self.body]
        first = int(self.unique)
        return [
            self.body.replace(self.unique, str(first + 1 + next(self._serial)).encode()) for _ in range(count)
        ]

    def requests(self, url: str, count: int, distinct: int = DISTINCT_BODIES) -> Deliveries:
        return Deliveries.build(url, self, count, distinct)


@dataclass(frozen=True)
class Deliveries:
    """`count` requests for one URL, each with its own delivery id, taking the bodies in turn."""

    url: str
    guids: tuple[str, ...]
    heads: tuple[bytes, ...]
    """The request line and headers of each request, ready to write (raw client)."""
    bodies: tuple[bytes, ...]
    body_headers: tuple[dict[str, str], ...]

    @classmethod
    def build(cls, url: str, workload: Workload, count: int, distinct: int = DISTINCT_BODIES) -> Deliveries:
        parts = urlsplit(url)
        bodies = tuple(workload.bodies(max(1, min(count, distinct))))
        body_headers, templates = [], []
        for body in bodies:
            headers = webhook_headers(workload.event, body, workload.secret, _GUID_PLACEHOLDER)
            headers["Content-Length"] = str(len(body))
            headers["Host"] = parts.netloc
            body_headers.append(headers)
            templates.append(
                f"POST {parts.path or '/'} HTTP/1.1\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                + "\r\n"
            )
        guids = tuple(str(uuid.uuid4()) for _ in range(count))
        heads = tuple(
            templates[index % len(bodies)].replace(_GUID_PLACEHOLDER, guid).encode()
            for index, guid in enumerate(guids)
        )
        return cls(url, guids, heads, bodies, tuple(body_headers))

    def body(self, index: int) -> bytes:
        return self.bodies[index % len(self.bodies)]

    def headers(self, index: int) -> dict[str, str]:
        """The headers of one request as a mapping (aiohttp client)."""
        return {**self.body_headers[index % len(self.bodies)], "X-GitHub-Delivery": self.guids[index]}

    def __len__(self) -> int:
        return len(self.heads)


@dataclass
class CellResult:
    """What one cell (one contender, one concurrency, one round) measured."""

    latencies: list[float] = field(default_factory=list)
    """Seconds from writing the request to reading the whole response, in completion order."""
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    sample_bodies: dict[int, bytes] = field(default_factory=dict)
    """The first response body seen for each status, for diagnosis."""
    created: int = 0
    """Answers that say a run was created (`"done": ["created ...`): with the runs the cluster holds
    afterwards, they show that no accepted command was lost or stored twice."""

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0


class ProtocolError(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._head_end = -1
        self._status = 0
        self._length: int | None = None
        self._chunked = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ProtocolError(f"connection closed: {exc or 'by the server'}"))

    def send(self, head: bytes, body: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._buffer.clear()
        self._head_end = -1
        self.transport.write(head + body)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._head_end < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._parse_head(end)
        body = self._body()
        if body is not None and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((self._status, body))

    def _parse_head(self, end: int) -> None:
        self._head_end = end + 4
        lines = bytes(self._buffer[:end]).split(b"\r\n")
        self._status = int(lines[0].split(b" ", 2)[1])
        self._length, self._chunked = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self._length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True

    def _body(self) -> bytes | None:
        """The whole body once it has arrived, else None."""
        start = self._head_end
        if self._chunked:
            return self._dechunk(start)
        length = self._length or 0
        if len(self._buffer) - start < length:
            return None
        return bytes(self._buffer[start : start + length])

    def _dechunk(self, position: int) -> bytes | None:
        body = bytearray()
        while True:
            line_end = self._buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(self._buffer[position:line_end]).split(b";")[0], 16)
            chunk_start = line_end + 2
            if size == 0:
                # The last chunk, then (no trailers from these servers) the final CRLF.
                return bytes(body) if len(self._buffer) >= chunk_start + 2 else None
            if len(self._buffer) < chunk_start + size + 2:
                return None
            body += self._buffer[chunk_start : chunk_start + size]
            position = chunk_start + size + 2


async def run_cell(
    deliveries: Deliveries,
    concurrency: int,
    *,
    max_seconds: float = 60.0,
    client: Client = "raw",
    request_timeout: float = 15.0,
) -> CellResult:
    """Send every delivery (or as many as fit in `max_seconds`) with `concurrency` in flight."""
    if client == "aiohttp":
        return await _run_cell_aiohttp(deliveries, concurrency, max_seconds, request_timeout)
    return await _run_cell_raw(deliveries, concurrency, max_seconds, request_timeout)


def _indices(count: int) -> Iterator[int]:
    return iter(range(count))


async def _run_cell_raw(
    deliveries: Deliveries, concurrency: int, max_seconds: float, request_timeout: float
) -> CellResult:
    parts = urlsplit(deliveries.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    result = CellResult()
    next_index = _indices(len(deliveries))
    heads, bodies = deliveries.heads, deliveries.bodies
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        connection: _Connection | None = None
        try:
            for index in next_index:
                if time.perf_counter() > deadline:
                    return
                if connection is None or connection.closed:
                    _, connection = await loop.create_connection(_Connection, host, port)
                started = time.perf_counter()
                try:
                    status, answer = await asyncio.wait_for(
                        connection.send(heads[index], bodies[index % len(bodies)]), request_timeout
                    )
                except (ProtocolError, OSError, TimeoutError) as exc:
                    result.failures[exc.__class__.__name__] += 1
                    if connection.transport is not None:
                        connection.transport.close()
                    connection = None
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
                result.sample_bodies.setdefault(status, answer[:500])
                result.created += CREATED in answer
        finally:
            # Closed however the worker ends (deliveries done or time up): a connection left open
            # stays in the server's memory until its keep-alive timeout.
            if connection is not None and connection.transport is not None:
                connection.transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


async def _run_cell_aiohttp(
    deliveries: Deliveries, concurrency: int, max_seconds: float, request_timeout: float
) -> CellResult:
    result = CellResult()
    next_index = _indices(len(deliveries))
    deadline = time.perf_counter() + max_seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def worker() -> None:
            for index in next_index:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    async with session.post(
                        deliveries.url, data=deliveries.body(index), headers=deliveries.headers(index)
                    ) as response:
                        answer = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.failures[exc.__class__.__name__] += 1
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[response.status] += 1
                result.sample_bodies.setdefault(response.status, answer[:500])
                result.created += CREATED in answer

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
    return result
