"""The embedded backend: one SQLite file (aiosqlite runs the standard sqlite3 module on a thread).

For the demo, a laptop, or `serve` and `controller` on one host: the file is opened in WAL mode, so the
page reads while the controller writes, and a writer waits up to `BUSY_TIMEOUT_MS` for another
process's transaction. One connection per process, its statements one at a time (a lock), opened and
migrated on first use and opened again after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import StoreUnavailable
from bot.store.base import SqlStore

BUSY_TIMEOUT_MS = 10_000
WRITING = "write"
MIGRATING = "migrate"


class SQLiteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._migrated = False

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is None:
            try:
                if str(self.path) != ":memory:":
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = await aiosqlite.connect(self.path, isolation_level=None)
                await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                await _write_ahead_log(connection)
                await connection.execute("PRAGMA synchronous = NORMAL")
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(f"cannot open the SQLite store {self.path}: {exc}") from exc
            self._connection = connection
        return self._connection

    @contextlib.asynccontextmanager
    async def _connection_for(self, begin: str | None) -> AsyncIterator[aiosqlite.Connection]:
        if not self._migrated and begin != MIGRATING:
            await self.migrate()
        async with self._lock:
            try:
                connection = await self._connect()
                if begin:
                    await connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    if begin:
                        await connection.rollback()
                    raise
                if begin:
                    await connection.commit()
            except (sqlite3.Error, OSError) as exc:
                await self._drop()
                raise StoreUnavailable(f"the SQLite store {self.path} failed: {exc}") from exc

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    def _transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._connection_for(WRITING)

    def _migration_lock(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._connection_for(MIGRATING)

    async def migrate(self) -> list[int]:
        applied = await super().migrate()
        self._migrated = True
        return applied

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._connection_for(None) as connection:
            return await self._fetch_in(connection, sql, *args)

    async def _fetch_in(self, connection: Any, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with connection.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def _execute(self, connection: Any, sql: str, *args: Any) -> int:
        async with connection.execute(sql, args) as cursor:
            return int(cursor.rowcount)

    async def _execute_many(self, connection: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await connection.executemany(sql, rows)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


async def _write_ahead_log(connection: aiosqlite.Connection) -> None:
    """WAL mode (kept in the file once set). Two processes opening a new file at once: the one that
    finds it locked leaves it to the other."""
    try:
        await connection.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
