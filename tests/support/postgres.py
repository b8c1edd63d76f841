"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, a free loopback port, stopped after.

The server binaries come from the Debian package `postgresql` (.ci/run installs it when missing). PostgreSQL
refuses to run as root, so under root (CI) every server command runs as the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "throughline"
PASSWORD = "pg-test-password-5e1f"  # noqa: S105 - a throwaway server on loopback; tests grep logs for it


def server_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH (some images link them) or Debian's versioned folder."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str = "postgres"
    log: Path | None = None  # the server's log; it records each connection (log_connections)

    def connections_opened(self) -> int:
        """How many client connections the server has accepted since it started."""
        return self.log.read_text(errors="replace").count("connection authorized") if self.log else 0

    def connect(self):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=self.database)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found: `apt-get install postgresql` (as .ci/run does)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    # Not under pytest's tmp_path: that folder is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="throughline-pg-"))
    data, password_file = root / "data", root / "password"
    password_file.write_text(PASSWORD)
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(password_file, "postgres")
    port = _free_port()
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
                    f"--pwfile={password_file}", "--no-sync",
                    # Text compares byte by byte, as in DuckDB (docs/DEPLOY.md: ties ordered by key agree).
                    "--locale=C", "--encoding=UTF8"], check=True, capture_output=True)
    log = root / "server.log"
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c log_connections=on", "start"],
                   check=True, capture_output=True)
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user=USER, password=PASSWORD, log=log)
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
