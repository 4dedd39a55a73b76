"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, initdb in a temporary directory, listening
on a free loopback port with password auth. As root it runs as the `postgres` user (PostgreSQL refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from llama_mesh.launcher import free_loopback_port

USER = "mesh"
DATABASE = "postgres"


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are (on PATH, else Debian's /usr/lib/postgresql/<version>/bin); None if absent."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _pg(bin_dir: Path, tool: str, *args: str, check: bool = True) -> None:
    """Run a PostgreSQL tool, as the `postgres` user when we are root."""
    command = [str(bin_dir / tool), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=check, capture_output=True)


@dataclass
class PostgresServer:
    dsn: str  # for user `mesh` with the password given
    bin_dir: Path
    data: Path
    options: str
    log: Path

    def start(self) -> None:
        _pg(self.bin_dir, "pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(self.log), "-w", "start")

    def stop(self, check: bool = True) -> None:
        _pg(self.bin_dir, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=check)


@contextmanager
def postgres_server(password: str) -> Iterator[PostgresServer]:
    """Start a server; yield it (its DSN, and `stop`/`start` to take it away for a while); stop it and remove its
    files."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "PostgreSQL binaries are not installed"
    root = Path(tempfile.mkdtemp(prefix="llama-mesh-pg-"))
    try:
        data, socket_dir, pwfile = root / "data", root, root / "pwfile"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (root, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _pg(bin_dir, "initdb", "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync")
        port = free_loopback_port()
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        dsn = f"postgresql://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"
        server = PostgresServer(dsn, bin_dir, data, options, root / "server.log")
        server.start()
        try:
            yield server
        finally:
            server.stop(check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_postgres(password: str) -> Iterator[str]:
    """Start a server; yield a DSN for it (user `mesh` with `password`); stop it and remove its files."""
    with postgres_server(password) as server:
        yield server.dsn
