"""Engine creation for the registry: SQLite by default, any SQLAlchemy URL otherwise.

SQLite writers take the database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so that two processes
applying at once serialise instead of failing half-way; a busy timeout makes the second wait.
Append-only tables get triggers that reject UPDATE and DELETE, and inserts that would replace a
row (SQLite's ``REPLACE`` deletes without firing DELETE triggers) or break a hash chain
(:mod:`sparkfs.registry.chain`); ``definition_heads`` rows cannot be deleted. A registry created
before the chains gets their columns and its existing rows sealed once, on first open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import RegistryError
from sparkfs.registry.chain import CHAINED_TABLES, GENESIS, append_chained, seal
from sparkfs.registry.schema import APPEND_ONLY_TABLES, metadata

__all__ = ["open_engine"]

_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{op}
BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
"""

# REPLACE deletes the row it replaces without firing a DELETE trigger (unless the connection
# enables recursive_triggers), so inserts are checked too: a chained row must take the next id
# and link to the last row; a definition version must not replace an existing one.
_SQLITE_CHAIN_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_chain
BEFORE INSERT ON {table}
WHEN NEW.row_hash IS NULL
  OR NEW.id IS NOT COALESCE((SELECT max(id) FROM {table}), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1), '{genesis}')
BEGIN SELECT RAISE(ABORT, '{table} rows are hash-chained: append through sparkfs'); END
"""

_SQLITE_VERSIONS_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS definition_versions_no_replace
BEFORE INSERT ON definition_versions
WHEN EXISTS (SELECT 1 FROM definition_versions WHERE id = NEW.id
             OR (kind = NEW.kind AND name = NEW.name AND version = NEW.version))
BEGIN SELECT RAISE(ABORT, 'definition_versions is append-only: a version is never replaced'); END
"""

# Lineage rows are written once; an insert that would replace one (REPLACE) is refused.
_SQLITE_LINEAGE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_no_replace
BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})
BEGIN SELECT RAISE(ABORT, '{table} is append-only: lineage is never replaced'); END
"""

_SQLITE_HEADS_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS definition_heads_no_DELETE
BEFORE DELETE ON definition_heads
BEGIN SELECT RAISE(ABORT, 'definition_heads rows are never deleted (a removed definition is marked removed)'); END
"""

_PG_FUNCTION = """
CREATE FUNCTION sparkfs_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql
"""

_PG_CHAIN_FUNCTION = """
CREATE FUNCTION sparkfs_chain_append() RETURNS trigger AS $$
DECLARE last_id bigint; last_hash text;
BEGIN
  EXECUTE format('SELECT id, row_hash FROM %I ORDER BY id DESC LIMIT 1', TG_TABLE_NAME)
    INTO last_id, last_hash;
  IF NEW.row_hash IS NULL OR NEW.id IS DISTINCT FROM COALESCE(last_id, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, '{genesis}') THEN
    RAISE EXCEPTION '% rows are hash-chained: append through sparkfs', TG_TABLE_NAME;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
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
            for table in CHAINED_TABLES:
                conn.execute(text(_SQLITE_CHAIN_TRIGGER.format(table=table, genesis=GENESIS)))
            conn.execute(text(_SQLITE_VERSIONS_TRIGGER))
            for table, key in (("lineage_runs", "run_id"), ("lineage_datasets", "id")):
                conn.execute(text(_SQLITE_LINEAGE_TRIGGER.format(table=table, key=key)))
            conn.execute(text(_SQLITE_HEADS_TRIGGER))
        elif engine.dialect.name == "postgresql":
            _install_pg(conn)


def _install_pg(conn: Connection) -> None:
    """Functions and triggers that are missing (only an owner may replace them, and every
    person's own login opens the registry under ``governance.identity: database``)."""
    functions = {r[0] for r in conn.execute(text("SELECT proname FROM pg_proc"))}
    triggers = {r[0] for r in conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))}
    if "sparkfs_append_only" not in functions:
        conn.execute(text(_PG_FUNCTION))
    if "sparkfs_chain_append" not in functions:
        conn.execute(text(_PG_CHAIN_FUNCTION.format(genesis=GENESIS)))
    wanted = [(f"{t}_append_only", t, "UPDATE OR DELETE", "sparkfs_append_only") for t in APPEND_ONLY_TABLES]
    wanted += [(f"{t}_chain", t, "INSERT", "sparkfs_chain_append") for t in CHAINED_TABLES]
    wanted.append(("definition_heads_no_delete", "definition_heads", "DELETE", "sparkfs_append_only"))
    for name, table, events, function in wanted:
        if name not in triggers:
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE {events} ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION {function}()"))


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to existing tables since a registry was created (nullable, so old rows stay valid)."""
    present = {c["name"] for c in inspect(engine).get_columns("sync_checkpoints")}
    if "features" not in present:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE sync_checkpoints ADD COLUMN features JSON"))
    for name in CHAINED_TABLES:
        _add_chain(engine, name)


def _add_chain(engine: Engine, name: str) -> None:
    """Give a table created before hash chains its two columns and seal its rows as they are.

    Runs once, in one write transaction (a second process opening the registry at the same
    time waits, then finds the columns): rows written later without a hash are forgeries.
    """
    if "row_hash" in {c["name"] for c in inspect(engine).get_columns(name)}:
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))
        if "row_hash" in {c["name"] for c in inspect(conn).get_columns(name)}:
            return  # another process upgraded it while we waited for the lock
        for column in ("prev_hash", "row_hash"):
            conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column} VARCHAR(64)"))
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}_no_UPDATE"))
        elif engine.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}"))
        table = metadata.tables[name]
        sealed = seal(conn, table)
        if name == "audit_log":  # the sealing itself is on the record, chained like the rest
            append_chained(conn, table, {
                "at": datetime.now(UTC), "user": "sparkfs", "action": "registry.upgrade",
                "outcome": "ok", "comment": "",
                "details": {"sealed_rows": sealed, "note": "hash chain added; rows before this "
                            "one are sealed as they were found"}})


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
