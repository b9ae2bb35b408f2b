"""The suite's PostgreSQL: one real server (Debian's) for the whole session, a new database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bot.sandbox.postgres import LocalPostgres, PostgresNotInstalled, local_postgres

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    try:
        with local_postgres() as server:
            yield server
    except PostgresNotInstalled as exc:
        # Never skipped: a backend left untested would pass unseen (.ci/run installs the server).
        pytest.fail(f"{exc} (.ci/run installs Debian's postgresql)", pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> str:
    """A new, empty database on the session's server."""
    return postgres_server.create_database(f"test_{next(_databases)}")
