"""The production backend: PostgreSQL through asyncpg, any number of `serve` replicas reading and the
controller's leader writing.

A small connection pool, created (and the schema migrated) on first use, and created again after the
database went away; migrations run under a transaction-level advisory lock, so replicas starting
together apply each file once. The shared queries (bot/store/base.py) use `?`; they are numbered
(`$1`, `$2`, ...) here, once per query text.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from bot.errors import StoreUnavailable
from bot.store.base import SqlStore

MIGRATION_LOCK_ID = 0x6F7263686573  # "orches"
CONNECT_TIMEOUT_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 30.0
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """`?` placeholders -> `$1`, `$2`, ... (the queries hold no `?` inside literals)."""
    parts = sql.split("?")
    return "".join(
        part + (f"${index + 1}" if index < len(parts) - 1 else "") for index, part in enumerate(parts)
    )


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 5) -> None:
        self._dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._migrated = False

    def __repr__(self) -> str:
        return "PostgresStore(<dsn>)"  # the DSN may hold a password

    async def _get_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=self.min_size,
                        max_size=self.max_size,
                        timeout=CONNECT_TIMEOUT_SECONDS,
                        command_timeout=COMMAND_TIMEOUT_SECONDS,
                    )
                except FAILURES as exc:
                    raise StoreUnavailable(f"cannot connect to the PostgreSQL store: {_reason(exc)}") from exc
            return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self, transaction: bool, migrating: bool = False) -> AsyncIterator[Any]:
        if not self._migrated and not migrating:
            await self.migrate()
        pool = await self._get_pool()
        try:
            async with pool.acquire() as connection:
                if not transaction:
                    yield connection
                    return
                async with connection.transaction():
                    if migrating:
                        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
                    yield connection
        except FAILURES as exc:
            if isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
                await self._drop_pool()
            raise StoreUnavailable(f"the PostgreSQL store failed: {_reason(exc)}") from exc

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    def _transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._connection(transaction=True)

    def _migration_lock(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._connection(transaction=True, migrating=True)

    async def migrate(self) -> list[int]:
        applied = await super().migrate()
        self._migrated = True
        return applied

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._connection(transaction=False) as connection:
            return await self._fetch_in(connection, sql, *args)

    async def _fetch_in(self, connection: Any, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [tuple(record) for record in await connection.fetch(numbered(sql), *args)]

    async def _execute(self, connection: Any, sql: str, *args: Any) -> int:
        status = await connection.execute(numbered(sql), *args)
        last = str(status).rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _execute_many(self, connection: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await connection.executemany(numbered(sql), rows)

    async def close(self) -> None:
        async with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=5)


def _reason(exc: BaseException) -> str:
    """The error in a line, without the DSN (asyncpg never puts the password in its messages)."""
    return f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
