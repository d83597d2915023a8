"""A real PostgreSQL server for the tests: Debian's `postgresql` package (scripts/setup test installs
it), a throwaway cluster in a temporary folder on a free loopback port, trust authentication.

initdb and the server refuse to run as root: as root they run as the package's `postgres` user,
in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "shopfloor"


def server_programs() -> Path | None:
    """The folder of initdb and pg_ctl of the newest PostgreSQL installed, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")  # KeyError: the package's user is missing
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A throwaway cluster in a temporary folder, on a free loopback port; stopped and started at will."""

    def __init__(self, programs: Path) -> None:
        self._programs = programs
        self._run_as = _as_server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="shopfloor-pg-"))
        if self._run_as:
            shutil.chown(self.folder, "postgres", "postgres")
        self._data, self.port = self.folder / "data", _free_port()
        self._run("initdb", "-D", str(self._data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        """The server's `postgres` database, as user `shopfloor`."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._run_as, str(self._programs / program), *args]
        subprocess.run(command, check=check, capture_output=True, text=True, cwd="/")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        """Stopped at once, as a crash or a power cut would stop it (a stopped server stays stopped)."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop", check=False)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed when the block ends."""
    programs = server_programs()
    if programs is None:
        raise FileNotFoundError("PostgreSQL's server programs (Debian package postgresql)")
    server = PostgresServer(programs)
    try:
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    """A new empty database on the server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
