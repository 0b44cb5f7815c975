"""Engine creation for the registry: SQLite by default, any SQLAlchemy URL otherwise.

SQLite writers take the database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so that two processes
applying at once serialise instead of failing half-way; a busy timeout makes the second wait.

The schema, its append-only triggers and its hash chains (:mod:`sparkfs.registry.chain`) are
made by the Alembic revisions in :mod:`sparkfs.registry.migrations`. :func:`open_engine`
creates an empty database at the newest revision and refuses a registry at another one
(:mod:`sparkfs.registry.migration`: ``sparkfs registry upgrade`` brings an older one up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import RegistryError
from sparkfs.registry.migration import prepare

__all__ = ["connect", "open_engine"]


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def connect(url: str) -> Engine:
    """An engine on the registry database, whatever its schema revision (for the upgrade).

    Raises:
        RegistryError: the URL is not one SQLAlchemy can open.
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise RegistryError(
            f"cannot open the registry at {url}: {exc.__class__.__name__}: {exc}; "
            "check registry.url in the config (and that its database driver is installed)"
        ) from exc
    if engine.dialect.name == "sqlite":
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
