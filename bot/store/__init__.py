"""The run store: every run's parsed, redacted transcript and phase changes, kept after the Pod is gone.

- `base.py`      the `Store` interface and the SQL both backends share
- `rows.py`      pure: runs and transcript events <-> rows
- `sqlite.py`    the embedded backend (one file; the demo, a laptop, one host)
- `postgres.py`  the production backend (any number of replicas)
- `migrate.py`   versioned schema migrations, `migrations/<dialect>/NNNN_*.sql` (package data)
- `writer.py`    the controller's batching writer: never blocks the log follower, buffers through an
                 outage (bounded, overflow counted), enforces retention
- `settings.py`  `ORCHESTRATOR_STORE_URL`, `ORCHESTRATOR_STORE_RETENTION_DAYS`

`open_store(url)` picks the backend from the URL; nothing connects until the store is first used.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.store.base import RunQuery, SessionRecord, Store

__all__ = ["RunQuery", "SessionRecord", "Store", "open_store", "store_url_problem"]


def store_url_problem(url: str) -> str | None:
    """Why `url` names no store we can open (None: it does)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            return "a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"
        return None
    if scheme in ("postgresql", "postgres"):
        return None if urlsplit(url).hostname or "host=" in url else "a PostgreSQL URL needs a host"
    return "must start with sqlite:/// or postgresql://"


def open_store(url: str) -> Store:
    """The store `url` names (`sqlite:///path` or `postgresql://user:password@host/db`)."""
    problem = store_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    if url.startswith("sqlite:"):
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore(Path(unquote(url[len("sqlite:///") :])))
    from bot.store.postgres import PostgresStore

    return PostgresStore("postgresql" + url[url.index(":") :])
