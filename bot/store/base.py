"""The store's interface, and its SQL, shared by both backends.

`Store` is what the controller (writes) and the run page (reads) use; `SqlStore` implements it over
four primitives that each backend provides (`_fetch`, `_execute_many` inside `_transaction`, `_apply`).
The queries are written once, with `?` placeholders; the PostgreSQL backend numbers them. Every
failure of the database or the driver becomes `StoreUnavailable`.

Rows are written idempotently: a run is upserted by (namespace, name); an event is inserted unless
its (namespace, name, stream, seq) is already there, so a log read again after a restart, or a batch
written again after a failure, stores nothing twice.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.store.migrate import CREATE_TABLE, Migration, migrations
from bot.store.rows import EventRecord, RunRecord, StoredEvent, dump, load

DEFAULT_PAGE_SIZE = 50
MAX_EVENTS_READ = 20_000


@dataclass(frozen=True)
class RunQuery:
    """Which runs `/runs` lists: newest first, in the given repositories (None: all), filtered."""

    repositories: Sequence[str] | None = None
    """Lower-cased `owner/name`s the person may read."""
    repository: str | None = None
    phase: str | None = None
    user: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in person: the hash of the session id (the cookie holds the id), and their GitHub
    token, encrypted with the session secret (bot/web/session.py). It never leaves the server."""

    id_hash: str
    login: str
    user_id: int
    token: str
    expires_at: float


class Store(abc.ABC):
    dialect: str

    @abc.abstractmethod
    async def migrate(self) -> list[int]:
        """Apply the migrations not applied yet; the versions applied now."""

    @abc.abstractmethod
    async def write(self, runs: Sequence[RunRecord], events: Sequence[EventRecord]) -> None:
        """Upsert `runs` and add `events` in one transaction."""

    @abc.abstractmethod
    async def run(self, namespace: str, name: str) -> RunRecord | None: ...

    @abc.abstractmethod
    async def events(
        self, namespace: str, name: str, after: int = 0, limit: int = MAX_EVENTS_READ
    ) -> list[StoredEvent]:
        """A run's rows with an id above `after`, in the order they were written."""

    @abc.abstractmethod
    async def retries_of(self, namespace: str, name: str) -> list[str]:
        """The runs started as retries or continuations of this one."""

    @abc.abstractmethod
    async def runs(self, query: RunQuery) -> list[RunRecord]: ...

    @abc.abstractmethod
    async def repositories(self) -> list[str]:
        """Every repository (`owner/name` as first stored) with runs in the store."""

    @abc.abstractmethod
    async def delete_finished_before(self, cutoff: float) -> int:
        """Remove the runs (and their events) that finished before `cutoff`; how many."""

    @abc.abstractmethod
    async def put_session(self, session: SessionRecord) -> None: ...

    @abc.abstractmethod
    async def session(self, id_hash: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    async def delete_session(self, id_hash: str) -> None: ...

    @abc.abstractmethod
    async def delete_expired_sessions(self, now: float) -> int: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""

    @abc.abstractmethod
    async def close(self) -> None: ...


UPSERT_RUN = (
    "INSERT INTO runs (namespace, name, kind, repository, repository_key, github_user, phase, issue_number, "
    "retry_of, created_at, updated_at, finished_at, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (namespace, name) DO UPDATE SET kind = excluded.kind, repository = excluded.repository, "
    "repository_key = excluded.repository_key, github_user = excluded.github_user, phase = excluded.phase, "
    "issue_number = excluded.issue_number, retry_of = excluded.retry_of, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, finished_at = excluded.finished_at, header = excluded.header"
)
INSERT_EVENT = (
    "INSERT INTO run_events (namespace, name, stream, seq, at, kind, data) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (namespace, name, stream, seq) DO NOTHING"
)
SELECT_RUN = (
    "SELECT namespace, name, kind, repository, repository_key, github_user, phase, issue_number, retry_of, "
    "created_at, updated_at, finished_at, header FROM runs"
)
SELECT_EVENTS = (
    "SELECT id, stream, seq, at, kind, data FROM run_events "
    "WHERE namespace = ? AND name = ? AND id > ? ORDER BY id LIMIT ?"
)


def run_row(run: RunRecord) -> tuple[Any, ...]:
    return (
        run.namespace,
        run.name,
        run.kind,
        run.repository,
        run.repository.lower(),
        run.user,
        run.phase,
        run.issue_number,
        run.retry_of,
        run.created_at,
        run.updated_at,
        run.finished_at,
        dump(run.header),
    )


def run_from_row(row: Sequence[Any]) -> RunRecord:
    (
        namespace,
        name,
        kind,
        repository,
        _key,
        user,
        phase,
        issue,
        retry_of,
        created,
        updated,
        finished,
        header,
    ) = row
    return RunRecord(
        namespace=namespace,
        name=name,
        kind=kind,
        repository=repository,
        user=user,
        phase=phase,
        created_at=created,
        updated_at=updated,
        finished_at=finished,
        issue_number=issue,
        retry_of=retry_of,
        header=load(header),
    )


def event_row(event: EventRecord) -> tuple[Any, ...]:
    return (event.namespace, event.name, event.stream, event.seq, event.at, event.kind, dump(event.data))


def latest_runs(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """One row per run (the last given), so a batch never upserts the same row twice."""
    return list({(run.namespace, run.name): run for run in runs}.values())


class SqlStore(Store):
    """The queries; a backend supplies the connection and the transaction."""

    @abc.abstractmethod
    def _transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A transaction (and the connection it runs on), committed when the block ends."""

    @abc.abstractmethod
    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...

    @abc.abstractmethod
    async def _execute(self, connection: Any, sql: str, *args: Any) -> int:
        """Run one statement inside `_transaction`; the rows it changed."""

    @abc.abstractmethod
    async def _execute_many(self, connection: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def _migration_lock(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A transaction that only one process at a time can hold."""

    async def migrate(self) -> list[int]:
        applied_now: list[int] = []
        async with self._migration_lock() as connection:
            await self._execute(connection, CREATE_TABLE)
            done = {
                int(row[0])
                for row in await self._fetch_in(connection, "SELECT version FROM schema_migrations")
            }
            for migration in migrations(self.dialect):
                if migration.version in done:
                    continue
                await self._apply(connection, migration)
                applied_now.append(migration.version)
        return applied_now

    async def _apply(self, connection: Any, migration: Migration) -> None:
        for statement in migration.statements():
            await self._execute(connection, statement)
        await self._execute(
            connection,
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            migration.version,
            migration.name,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @abc.abstractmethod
    async def _fetch_in(self, connection: Any, sql: str, *args: Any) -> list[Sequence[Any]]: ...

    async def write(self, runs: Sequence[RunRecord], events: Sequence[EventRecord]) -> None:
        if not runs and not events:
            return
        async with self._transaction() as connection:
            if runs:
                await self._execute_many(connection, UPSERT_RUN, [run_row(run) for run in latest_runs(runs)])
            if events:
                await self._execute_many(connection, INSERT_EVENT, [event_row(event) for event in events])

    async def run(self, namespace: str, name: str) -> RunRecord | None:
        rows = await self._fetch(f"{SELECT_RUN} WHERE namespace = ? AND name = ?", namespace, name)
        return run_from_row(rows[0]) if rows else None

    async def events(
        self, namespace: str, name: str, after: int = 0, limit: int = MAX_EVENTS_READ
    ) -> list[StoredEvent]:
        rows = await self._fetch(SELECT_EVENTS, namespace, name, after, limit)
        return [
            StoredEvent(int(i), stream, int(seq), at, kind, load(data))
            for i, stream, seq, at, kind, data in rows
        ]

    async def retries_of(self, namespace: str, name: str) -> list[str]:
        rows = await self._fetch(
            "SELECT name FROM runs WHERE namespace = ? AND retry_of = ? ORDER BY created_at, name",
            namespace,
            name,
        )
        return [str(row[0]) for row in rows]

    async def runs(self, query: RunQuery) -> list[RunRecord]:
        where: list[str] = []
        args: list[Any] = []
        if query.repositories is not None:
            if not query.repositories:
                return []
            where.append(f"repository_key IN ({', '.join('?' for _ in query.repositories)})")
            args += [repository.lower() for repository in query.repositories]
        for column, value in (
            ("repository_key", query.repository.lower() if query.repository else None),
            ("phase", query.phase),
            ("github_user", query.user),
        ):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = SELECT_RUN + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY created_at DESC, name LIMIT ? OFFSET ?"
        return [run_from_row(row) for row in await self._fetch(sql, *args, query.limit, query.offset)]

    async def repositories(self) -> list[str]:
        rows = await self._fetch("SELECT MIN(repository) FROM runs GROUP BY repository_key ORDER BY 1")
        return [str(row[0]) for row in rows]

    async def delete_finished_before(self, cutoff: float) -> int:
        async with self._transaction() as connection:
            await self._execute(
                connection,
                "DELETE FROM run_events WHERE EXISTS (SELECT 1 FROM runs WHERE runs.namespace = "
                "run_events.namespace AND runs.name = run_events.name AND runs.finished_at < ?)",
                cutoff,
            )
            return await self._execute(connection, "DELETE FROM runs WHERE finished_at < ?", cutoff)

    async def put_session(self, session: SessionRecord) -> None:
        async with self._transaction() as connection:
            await self._execute(
                connection,
                "INSERT INTO sessions (id_hash, login, user_id, token, expires_at) VALUES (?, ?, ?, ?, ?)",
                session.id_hash,
                session.login,
                session.user_id,
                session.token,
                session.expires_at,
            )

    async def session(self, id_hash: str) -> SessionRecord | None:
        rows = await self._fetch(
            "SELECT id_hash, login, user_id, token, expires_at FROM sessions WHERE id_hash = ?", id_hash
        )
        if not rows:
            return None
        found, login, user_id, token, expires_at = rows[0]
        return SessionRecord(found, login, int(user_id), token, float(expires_at))

    async def delete_session(self, id_hash: str) -> None:
        async with self._transaction() as connection:
            await self._execute(connection, "DELETE FROM sessions WHERE id_hash = ?", id_hash)

    async def delete_expired_sessions(self, now: float) -> int:
        async with self._transaction() as connection:
            return await self._execute(connection, "DELETE FROM sessions WHERE expires_at < ?", now)

    async def ping(self) -> None:
        await self._fetch("SELECT 1")


@contextlib.asynccontextmanager
async def opened(store: Store) -> AsyncIterator[Store]:
    try:
        yield store
    finally:
        await store.close()
