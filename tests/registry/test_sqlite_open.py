"""Opening a SQLite registry: WAL is set once, before any pooled connection, and an open that
meets another process's lock waits for it instead of failing."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from sparkfs.errors import RegistryError
from sparkfs.registry.database import connect, open_engine


def test_a_new_registry_file_is_in_wal_mode_before_the_first_pooled_connection(
        tmp_path: Path) -> None:
    db = tmp_path / "sub" / "registry.db"
    engine = connect(f"sqlite:///{db}")
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_opening_while_another_connection_holds_the_new_file_waits_for_it(
        tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another process's first open: an exclusive lock on a new file
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("CREATE TABLE other (x)")
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    threading.Timer(0.6, release.set).start()
    started = time.monotonic()
    engine = open_engine(f"sqlite:///{db}")
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.5  # it waited for the lock instead of failing
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_registry_file_that_cannot_be_opened_names_it_and_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    db.mkdir()  # a directory where the file should be
    with pytest.raises(RegistryError, match=rf"cannot open the registry at {db}: .*writable"):
        connect(f"sqlite:///{db}")
