"""A PostgreSQL server of the test's own (initdb into a temporary directory, a free port), so
restarting it disturbs no other test: the machine's PostgreSQL is shared."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from shared import migrate
from tests.integration.stack import free_port, wait_until

BIN = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
DATABASE = "relink"


class PostgresServer:
    """initdb, start, restart and stop a private server; it runs as `postgres` when the tests
    run as root (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="relink-pg-"))
        self.data = self.dir / "data"
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.user:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.user, str(BIN / tool), *args], check=True, capture_output=True, timeout=60
        )

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
            "-o", options, *args,
        )  # fmt: skip

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self, mode: str = "immediate") -> None:
        """`pg_ctl restart -m immediate`: every backend killed, crash recovery on start."""
        self._pg_ctl("restart", "-m", mode)

    def create_database(self) -> None:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        migrate.upgrade(self.sqlalchemy_url)

    def accepting(self) -> bool:
        with psycopg.connect(self.url, connect_timeout=1) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def wait_accepting(self, timeout: float = 30) -> None:
        wait_until(self.accepting, timeout, f"PostgreSQL on port {self.port}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.dir, ignore_errors=True)
