"""Raw sqlite3 access to a registry, as an adversary with the file would have it, and a registry
of the schema sparkfs used before the hash chains (to test the upgrade)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LEGACY_SCHEMA", "drop_triggers", "legacy_registry", "raw"]

#: audit_log and reviews exactly as the previous version created them (without hashes).
LEGACY_SCHEMA = """
CREATE TABLE audit_log (
    id INTEGER NOT NULL, at DATETIME NOT NULL, user VARCHAR(128) NOT NULL,
    action VARCHAR(64) NOT NULL, kind VARCHAR(32), name VARCHAR(128), version VARCHAR(64),
    outcome VARCHAR(32) NOT NULL, comment TEXT NOT NULL, details JSON, PRIMARY KEY (id));
CREATE TRIGGER audit_log_no_UPDATE BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_DELETE BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE reviews (
    id INTEGER NOT NULL, kind VARCHAR(32) NOT NULL, name VARCHAR(128) NOT NULL,
    version VARCHAR(64) NOT NULL, action VARCHAR(32) NOT NULL, user VARCHAR(128) NOT NULL,
    comment TEXT NOT NULL, at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TRIGGER reviews_no_UPDATE BEFORE UPDATE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews is append-only'); END;
CREATE TRIGGER reviews_no_DELETE BEFORE DELETE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews is append-only'); END;
"""


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection (no sparkfs pragmas, no recursive triggers), committed on exit."""
    db = sqlite3.connect(path)
    try:
        yield db
        db.commit()
    finally:
        db.close()


def drop_triggers(path: Path) -> None:
    """What an adversary who can write the file does first."""
    with raw(path) as db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")


def legacy_registry(path: Path, audit_rows: list[tuple[str, str, str, str]]) -> None:
    """A registry file as the previous version left it: (user, action, outcome, comment) rows."""
    with raw(path) as db:
        db.executescript(LEGACY_SCHEMA)
        db.executemany("INSERT INTO audit_log (at, user, action, outcome, comment) "
                       "VALUES ('2026-01-01 00:00:00.000000', ?, ?, ?, ?)", audit_rows)
