"""A private PostgreSQL server (Debian's ``postgresql`` package) in a directory of its own,
for the catalogue's tests and benchmark: initdb, pg_ctl start on a loopback port, stop.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(the data directory is handed to it); as anyone else it runs as that user. Nothing is left
running: :meth:`stop` (or leaving the ``with`` block) stops the server with ``-m fast``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..ports import free_port

DEBIAN_BIN = Path("/usr/lib/postgresql")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed (tools/system-deps.sh adds them)."""


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(DEBIAN_BIN.glob("*/bin/pg_ctl"), key=lambda p: p.parent.parent.name)
    if not versions:
        raise PostgresUnavailable("pg_ctl not found: install Debian's postgresql package")
    return versions[-1].parent


class PostgresServer:
    """One cluster, database ``catalogue``, trust authentication on loopback only."""

    def __init__(self, directory: Path | None = None) -> None:
        self._bin = _bin_dir()
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ro-postgres-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self._user = "postgres" if os.geteuid() == 0 else None
        self._started = False

    @property
    def url(self) -> str:
        user = self._user or pwd.getpwuid(os.geteuid()).pw_name
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/catalogue"

    def _run(self, *argv: str) -> None:
        subprocess.run([str(self._bin / argv[0]), *argv[1:]], check=True, user=self._user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.directory)

    def start(self) -> PostgresServer:
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8",
                      "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.directory} -c fsync=off "
                   "-c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.directory / "server.log"), "-w", "-t", "60", "start")
        self._started = True
        if fresh:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "catalogue")
        return self

    def stop(self, *, keep: bool = False) -> None:
        """Stops the server; ``keep``: its data stays for a later :meth:`start`."""
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self._started = False
        if self._own_dir and not keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
