"""Schema revisions of the registry (Alembic), and what opening a registry does about them.

The revisions live in :mod:`sparkfs.registry.migrations` and are applied programmatically (no
``alembic.ini``); the registry records its revision in the table ``sparkfs_schema_version``
(not Alembic's default name, so that a database shared with another Alembic project keeps
both). Opening a registry (:func:`sparkfs.registry.open_engine`, hence every command):

* an **empty database** (no sparkfs table: the quickstart's SQLite file, a new PostgreSQL
  database) is created at the newest revision by running every revision from the first;
* a registry **at this sparkfs's revision** opens;
* a registry **behind** it (made by an older sparkfs) is refused: run ``sparkfs registry
  upgrade``. Opening never alters an existing registry: an upgrade of a shared registry is an
  operator's decision (back it up first) and must run as the owner of its tables, while jobs
  and people open it under their own logins;
* a registry **ahead** of it (upgraded by a newer sparkfs) is refused, naming both revisions.

A registry made before sparkfs recorded revisions has no version table; its revision is read
from its shape (which columns and tables it has). :func:`upgrade_registry` runs the missing
revisions in one transaction under a lock (SQLite's write lock, a PostgreSQL advisory lock):
two upgrades at once run one after the other, and a failed one changes nothing. It records a
``registry.upgrade`` audit entry, chained like every other.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import RegistryError
from sparkfs.registry.chain import append_chained
from sparkfs.registry.schema import audit_log

__all__ = ["VERSION_TABLE", "SchemaStatus", "Upgrade", "head_revision", "prepare", "schema_status",
           "upgrade_registry"]

VERSION_TABLE = "sparkfs_schema_version"
_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x5350_4B46_5347  # pg_advisory_xact_lock key of schema changes ("SPKFSG")

#: The tables of the first schema: a database with none of them (and no revision) is empty.
_FIRST_TABLES = frozenset({"audit_log", "backfill_chunks", "definition_heads", "definition_versions",
                           "quality_results", "reviews", "runs", "sync_checkpoints", "training_sets",
                           "watermarks"})

State = Literal["empty", "current", "behind", "ahead"]


@dataclass(frozen=True)
class SchemaStatus:
    """The registry's schema revision against this sparkfs's newest (``head``).

    ``current`` is None for an empty database; ``recorded`` is False for a registry made before
    sparkfs recorded revisions (its revision was recognised from its tables).
    """

    current: str | None
    head: str
    known: bool = True
    recorded: bool = True
    pending: tuple[str, ...] = ()

    @property
    def state(self) -> State:
        if self.current is None:
            return "empty"
        if not self.known:
            return "ahead"
        return "current" if self.current == self.head else "behind"

    def describe(self) -> str:
        """``current`` in words (for messages and ``sparkfs registry status``)."""
        if self.current is None:
            return "none (an empty database)"
        return self.current if self.recorded else f"{self.current} (recognised: no revision recorded)"

    def refusal(self, url: str) -> str:
        """Why a registry in this state is not opened, and what to do."""
        if self.state == "ahead":
            return (f"the registry at {url} has schema revision {self.current}, newer than this "
                    f"sparkfs knows (its newest is {self.head}): a newer sparkfs upgraded it; "
                    "install that sparkfs version (or later) to use this registry")
        return (f"the registry at {url} has schema revision {self.describe()}, older than this "
                f"sparkfs's {self.head}: run `sparkfs registry upgrade` (as the owner of its "
                "tables, after a backup), then retry")


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade_registry` did: from which revision to which, through which steps.

    ``recorded``: the registry was already at the newest revision's shape but made before
    revisions were recorded; only its revision was written down.
    """

    before: str | None
    after: str
    applied: tuple[str, ...] = ()
    sealed_rows: Mapping[str, int] = field(default_factory=dict)
    recorded: bool = False  # only recorded the revision of a registry made before they were


def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(_script_folder()))


@functools.cache
def _script_folder() -> Path:
    """The revisions' folder on disk. Alembic reads revisions from files, so when sparkfs runs
    from a zip (``spark-submit.sh`` ships the package as ``--py-files``), the folder is copied
    out of the zip once per process into a temporary directory."""
    if _SCRIPTS.is_dir():
        return _SCRIPTS
    package = resources.files("sparkfs.registry.migrations")
    target = Path(tempfile.mkdtemp(prefix="sparkfs-migrations-"))
    atexit.register(shutil.rmtree, target, True)
    _copy_tree(package, target)
    return target


def _copy_tree(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                (target / entry.name).mkdir()
                _copy_tree(entry, target / entry.name)
        elif entry.name.endswith(".py"):
            (target / entry.name).write_bytes(entry.read_bytes())


def head_revision() -> str:
    """The newest revision this sparkfs knows."""
    head = _scripts().get_current_head()
    assert head is not None  # the package ships its revisions
    return head


def _recognised(conn: Connection, tables: set[str]) -> str:
    """The revision of a registry made before revisions were recorded, from its shape."""
    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(conn).get_columns(table)}

    if "lineage_runs" in tables:
        return "0005_lineage"
    if "row_hash" in columns("audit_log"):
        return "0004_hash_chains"
    if "written_outputs" in tables:
        return "0003_written_outputs"
    if "features" in columns("sync_checkpoints"):
        return "0002_checkpoint_features"
    return "0001_first_schema"


def _status(conn: Connection, script: ScriptDirectory) -> SchemaStatus:
    head = script.get_current_head()
    assert head is not None
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
        recorded = True
    elif tables & _FIRST_TABLES:
        missing = _FIRST_TABLES - tables
        if missing:
            raise RegistryError(
                f"the database holds some registry tables but not {', '.join(sorted(missing))}, "
                "and no schema revision: it is not a registry sparkfs made (or it lost tables); "
                "restore it from a backup, or point registry.url at another database")
        current, recorded = _recognised(conn, tables), False
    else:
        current, recorded = None, True
    known = current is None or current in {s.revision for s in script.walk_revisions()}
    pending: tuple[str, ...] = ()
    if known and current != head:
        pending = tuple(reversed([s.revision for s in script.iterate_revisions(head, current or "base")]))
    return SchemaStatus(current, head, known=known, recorded=recorded, pending=pending)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _failed(engine: Engine, doing: str, exc: SQLAlchemyError) -> RegistryError:
    return RegistryError(
        f"cannot {doing} the registry at {_url(engine)}: {exc.__class__.__name__}: {exc}; check "
        "registry.url in the config, that the database is reachable and that this login may "
        "change its schema (on PostgreSQL: the owner of the sparkfs tables)")


def schema_status(engine: Engine) -> SchemaStatus:
    """The registry's revision and this sparkfs's; reads only.

    Raises:
        RegistryError: the database cannot be read.
    """
    try:
        with engine.connect() as conn:
            return _status(conn, _scripts())
    except SQLAlchemyError as exc:
        raise _failed(engine, "read the schema revision of", exc) from exc


def _lock(conn: Connection) -> None:
    """Serialise schema changes (SQLite: ``BEGIN IMMEDIATE`` already holds the write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _migrate(conn: Connection, script: ScriptDirectory, attributes: dict[str, Any],
             destination: str = "head") -> None:
    """Run the revisions from the recorded one to ``destination``, in the caller's transaction."""
    config = Config()
    config.attributes.update(attributes)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(destination, revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev=destination) as env:
        env.configure(connection=conn, version_table=VERSION_TABLE)
        with env.begin_transaction():
            env.run_migrations()


def prepare(engine: Engine) -> None:
    """Create an empty registry at the newest revision; refuse one at another revision.

    Raises:
        RegistryError: the registry is behind or ahead of this sparkfs (the message says what
            to do), or the database cannot be read or created.
    """
    script = _scripts()
    try:
        with engine.connect() as conn:
            status = _status(conn, script)
        if status.state == "empty":
            with engine.begin() as conn:
                _lock(conn)
                status = _status(conn, script)  # another process may have created it meanwhile
                if status.state == "empty":
                    _migrate(conn, script, {})
                    return
    except SQLAlchemyError as exc:
        raise _failed(engine, "open", exc) from exc
    if status.state != "current":
        raise RegistryError(status.refusal(_url(engine)))


def upgrade_registry(engine: Engine, user: str = "sparkfs") -> Upgrade:
    """Bring the registry to this sparkfs's revision, in one transaction (see the module doc).

    Raises:
        RegistryError: the registry is newer than this sparkfs, or the upgrade failed (then
            nothing changed).
    """
    script = _scripts()
    try:
        with engine.begin() as conn:
            _lock(conn)
            status = _status(conn, script)
            if status.state == "ahead":
                raise RegistryError(status.refusal(_url(engine)))
            if not status.recorded:  # made before revisions were recorded: record what it is
                assert status.current is not None
                MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(
                    script, status.current)
            if status.state == "current":
                return Upgrade(status.current, status.head, recorded=not status.recorded)
            attributes: dict[str, Any] = {"sealed_rows": {}}
            _migrate(conn, script, attributes)
            done = Upgrade(status.current, status.head, status.pending, dict(attributes["sealed_rows"]))
            if status.current is not None:
                append_chained(conn, audit_log, {
                    "at": datetime.now(UTC), "user": user, "action": "registry.upgrade",
                    "outcome": "ok", "comment": "",
                    "details": {"from": status.current, "to": status.head, "applied": list(done.applied),
                                "sealed_rows": dict(done.sealed_rows)}})
            return done
    except SQLAlchemyError as exc:
        raise _failed(engine, "upgrade", exc) from exc
