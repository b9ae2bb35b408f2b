"""A throw-away local PostgreSQL server (the one from Debian's packages), for the tests and benchmarks
that run the store against a real PostgreSQL.

    with local_postgres() as server:
        store = open_store(server.url("orchestrator"))

`initdb` into a temporary directory, `pg_ctl start` on a free loopback port (its Unix socket in that
directory), trust authentication on loopback only, durability off (fsync) since the data is thrown
away; stopped and removed on exit. PostgreSQL refuses to run as root: as root the server runs as the
`postgres` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries (Debian: `apt-get install postgresql`)."""


@dataclass(frozen=True)
class LocalPostgres:
    port: int
    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        _run([self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SERVER_USER, "-q",
              "-c", f'CREATE DATABASE "{name}"'], as_server=False)  # fmt: skip
        return self.url(name)

    def _bin(self, program: str) -> str:
        return str(Path(server_bin_dir()) / program)


def server_bin_dir() -> str:
    """Where `pg_ctl` and `initdb` are (Debian keeps them out of PATH, in /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return str(Path(found[-1]).parent)
    on_path = shutil.which("pg_ctl")
    if on_path:
        return str(Path(on_path).resolve().parent)
    raise PostgresNotInstalled("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", "--"]


def _run(command: list[str], *, as_server: bool = True) -> None:
    prefix = _as_server_user() if as_server else []
    result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()[-1000:]}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    bin_dir = Path(server_bin_dir())
    directory = Path(tempfile.mkdtemp(prefix="orchestrator-postgres-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
    data = directory / "data"
    port = _free_port()
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8",
              "--no-sync", "--no-instructions"])  # fmt: skip
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "server.log"),
              "-w", "-t", "60", "start"])  # fmt: skip
        try:
            yield LocalPostgres(port, directory)
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
