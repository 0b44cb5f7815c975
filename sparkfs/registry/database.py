"""Engine creation for the registry: SQLite by default, any SQLAlchemy URL otherwise.

SQLite writers take the database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so that two processes
applying at once serialise instead of failing half-way; a busy timeout makes the second wait.
Append-only tables get triggers that reject UPDATE and DELETE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import RegistryError
from sparkfs.registry.schema import APPEND_ONLY_TABLES, metadata

__all__ = ["open_engine"]

_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{op}
BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
"""

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION sparkfs_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql
"""


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


def _install_append_only(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for table in APPEND_ONLY_TABLES:
                for op in ("UPDATE", "DELETE"):
                    conn.execute(text(_SQLITE_TRIGGER.format(table=table, op=op)))
        elif engine.dialect.name == "postgresql":
            conn.execute(text(_PG_FUNCTION))
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
                conn.execute(
                    text(
                        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION sparkfs_append_only()"
                    )
                )


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to existing tables since a registry was created (nullable, so old rows stay valid)."""
    present = {c["name"] for c in inspect(engine).get_columns("sync_checkpoints")}
    if "features" not in present:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE sync_checkpoints ADD COLUMN features JSON"))


def open_engine(url: str) -> Engine:
    """Open the registry database, creating its tables on first use.

    Raises:
        RegistryError: the database cannot be opened or initialised.
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            _sqlite_setup(engine)
        metadata.create_all(engine)
        _add_missing_columns(engine)
        _install_append_only(engine)
    except SQLAlchemyError as exc:
        raise RegistryError(
            f"cannot open the registry at {url}: {exc.__class__.__name__}: {exc}; "
            "check registry.url in the config and that the database is reachable"
        ) from exc
    return engine
