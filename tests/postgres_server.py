"""A real PostgreSQL server (Debian's ``postgresql`` package) on a free loopback port, on its
own data directory, for tests of the registry on PostgreSQL. As root, the server runs as the
``postgres`` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.redis_server import free_port

__all__ = ["PostgresServer"]


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin); run scripts/setup.sh")
    return Path(found[-1]).parent


class PostgresServer:
    """initdb, start (pg_ctl, trust authentication on 127.0.0.1), run SQL as the superuser, stop."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sparkfs-pg-"))
        self.data = self.dir / "data"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def url(self, user: str, database: str = "sparkfs") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statements: str, database: str = "postgres", user: str = "postgres") -> None:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname=database,
                             autocommit=True) as conn:
            for statement in filter(None, (s.strip() for s in statements.split(";"))):
                conn.execute(statement)  # type: ignore[call-overload]

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
