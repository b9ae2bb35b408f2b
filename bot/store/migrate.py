"""Versioned schema migrations: `migrations/<dialect>/NNNN_<what>.sql`, applied in order, each once.

The files ship inside the package. Each backend applies the ones its database has not recorded in
`schema_migrations`, one transaction each, under a lock that keeps two processes starting at once from
applying the same file twice (PostgreSQL: an advisory lock; SQLite: `BEGIN IMMEDIATE`). A file is
never edited once released: a change is a new file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
DIALECTS = ("sqlite", "postgresql")
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        return statements(self.sql)


def statements(sql: str) -> list[str]:
    """The statements of a migration file: `--` comments dropped, split at the `;` ending a line."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [part.strip() for part in parts if part.strip()]


def migrations(dialect: str) -> list[Migration]:
    """Every migration of `dialect`, in order; a misnamed file or a gap in the numbers is a bug."""
    if dialect not in DIALECTS:
        raise ValueError(f"no migrations for {dialect!r}")
    folder = resources.files(__package__ or "bot.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise ValueError(f"migration {dialect}/{entry.name} is not named NNNN_what.sql")
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise ValueError(f"the {dialect} migrations are not numbered 1, 2, 3, ...")
    return found
