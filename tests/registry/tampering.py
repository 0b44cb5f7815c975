"""Direct access to a registry database, as an adversary with the SQLite file or the
PostgreSQL owner's login would have it (no sparkfs code, no SQLAlchemy: the plain driver), and
registries of the first schema, as the first sparkfs created them (to test the upgrade)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

from tests.registry.first_schema import create_first_schema

__all__ = ["Adversary", "drop_triggers", "first_schema_registry", "raw"]


@dataclass(frozen=True)
class Adversary:
    """Someone who can write the registry's database directly.

    SQL is written once with ``?`` placeholders and ``"user"`` quoted (both backends accept
    that); where the backends differ, a test passes ``{"sqlite": ..., "postgresql": ...}``.
    """

    url: str

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def refused(self) -> tuple[type[Exception], ...]:
        """What the driver raises when a trigger (or a constraint) refuses a statement."""
        return (sqlite3.IntegrityError,) if self.dialect == "sqlite" else (psycopg.Error,)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        url = make_url(self.url)
        if self.dialect == "sqlite":
            db: Any = sqlite3.connect(str(url.database))
        else:
            db = psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
        try:
            yield db
            db.commit()
        finally:
            db.close()

    def sql(self, statement: str | dict[str, str]) -> str:
        chosen = statement[self.dialect] if isinstance(statement, dict) else statement
        return chosen if self.dialect == "sqlite" else chosen.replace("?", "%s")

    def execute(self, statement: str | dict[str, str], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction, committed; returns the rows it read."""
        with self._connect() as db:
            args = tuple(params) if params or self.dialect == "sqlite" else None
            cursor = db.execute(self.sql(statement), args)
            return list(cursor.fetchall()) if cursor.description else []

    def drop_triggers(self) -> None:
        """What an adversary who can write the database does first."""
        if self.dialect == "sqlite":
            for (name,) in self.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
                self.execute(f"DROP TRIGGER {name}")
        else:
            for name, table in self.execute("SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                                            "WHERE NOT tgisinternal"):
                self.execute(f"DROP TRIGGER {name} ON {table}")

    def triggers(self) -> set[str]:
        if self.dialect == "sqlite":
            return {r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return {r[0] for r in self.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}


def first_schema_registry(url: str, audit_rows: Sequence[tuple[str, str, str, str]]) -> Adversary:
    """A registry as the first sparkfs left it, with (user, action, outcome, comment) audit rows."""
    create_first_schema(url)
    db = Adversary(url)
    for row in audit_rows:
        db.execute('INSERT INTO audit_log (at, "user", action, outcome, comment) '
                   "VALUES ('2026-01-01 00:00:00.000000', ?, ?, ?, ?)", row)
    return db


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to a SQLite registry file, committed on exit."""
    db = sqlite3.connect(path)
    try:
        yield db
        db.commit()
    finally:
        db.close()


def drop_triggers(path: Path) -> None:
    """:meth:`Adversary.drop_triggers` on a SQLite registry file."""
    Adversary(f"sqlite:///{path}").drop_triggers()
