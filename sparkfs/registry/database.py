"""Engine creation for the registry: SQLite by default, any SQLAlchemy URL otherwise.

SQLite writers take the database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so that two processes
applying at once serialise instead of failing half-way; a busy timeout makes the second wait.

The schema, its append-only triggers and its hash chains (:mod:`sparkfs.registry.chain`) are
made by the Alembic revisions in :mod:`sparkfs.registry.migrations`. :func:`open_engine`
creates an empty database at the newest revision and refuses a registry at another one
(:mod:`sparkfs.registry.migration`: ``sparkfs registry upgrade`` brings an older one up).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import RegistryError
from sparkfs.registry.migration import prepare

__all__ = ["connect", "open_engine"]

_BUSY_TIMEOUT_MS = 30_000


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
            cursor.execute("PRAGMA journal_mode = WAL")  # a file connect() did not reach
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_wal(path: Path) -> None:
    """Put a SQLite file in WAL mode once, on a connection of its own, before any pool opens.

    The mode is stored in the file. Switching needs the database to itself; in rollback-journal
    mode (a new file) a reader blocks it, so two processes opening a new registry at once could
    deadlock: one's pooled reader blocks the other's switch while it waits on the other's
    write, until the busy timeout fails one ("database is locked"). Here nothing else is held
    by this process, so the busy timeout just waits for the other one; "locked" is retried.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        conn = None
        try:
            conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None)
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise RegistryError(f"cannot open the registry at {path}: {exc}; check that "
                                    "the file and its directory are writable") from exc
            if time.monotonic() > deadline:
                raise RegistryError(f"cannot open the registry at {path}: {exc}; another "
                                    "process holds it: retry when it is done") from exc
        finally:
            if conn is not None:
                conn.close()
        time.sleep(0.05)


def connect(url: str) -> Engine:
    """An engine on the registry database, whatever its schema revision (for the upgrade).

    Raises:
        RegistryError: the URL is not one SQLAlchemy can open.
    """
    sqlite_file = None
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        sqlite_file = Path(url[len("sqlite:///") :].split("?", 1)[0])
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise RegistryError(
            f"cannot open the registry at {url}: {exc.__class__.__name__}: {exc}; "
            "check registry.url in the config (and that its database driver is installed)"
        ) from exc
    if engine.dialect.name == "sqlite":
        if sqlite_file is not None:
            _ensure_wal(sqlite_file)
        _sqlite_setup(engine)
    return engine


def open_engine(url: str) -> Engine:
    """Open the registry database, creating its tables on first use.

    Raises:
        RegistryError: the database cannot be opened or initialised, or its schema is of
            another sparkfs version (the message says to run ``sparkfs registry upgrade``, or
            names the newer revision).
    """
    engine = connect(url)
    try:
        prepare(engine)
    except RegistryError:
        engine.dispose()
        raise
    return engine
