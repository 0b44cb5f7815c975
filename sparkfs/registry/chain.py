"""Hash chains over the append-only ``audit_log`` and ``reviews`` tables.

Each row carries ``row_hash``, the sha256 of its own content (every column but the hashes,
its id included) together with ``prev_hash``, the ``row_hash`` of the row before it (the
first row's ``prev_hash`` is :data:`GENESIS`). Rewriting a row's content breaks its own hash;
recomputing that hash breaks the next row's link; removing or inserting a row in the middle
breaks a link too. :func:`verify_chain` finds the first such break. Only the newest rows can be
cut off unseen, or the whole chain recomputed from some row on, and only by someone who can
write the table and runs this code: keep the anchor ``sparkfs audit verify`` prints somewhere
else and pass it back (``--anchor``) to notice that too (:func:`check_anchor`).

Appends go through :func:`append_chained`, inside the caller's write transaction: it takes the
table's write lock (SQLite's ``BEGIN IMMEDIATE`` already holds it; PostgreSQL gets a ``LOCK
TABLE``), gives the row the next id explicitly and links it to the current last row. The
registry's triggers (:mod:`sparkfs.registry.database`) refuse any other insert.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text

__all__ = ["CHAINED_TABLES", "GENESIS", "ChainBreak", "ChainState", "append_chained", "check_anchor",
           "row_digest", "seal", "verify_chain"]

GENESIS = "0" * 64
CHAINED_TABLES = ("audit_log", "reviews")
_HASH_COLUMNS = ("row_hash", "prev_hash")


@dataclass(frozen=True)
class ChainBreak:
    """The first row of a table whose chain does not hold, and how it fails."""

    table: str
    row_id: int
    problem: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}: {self.problem}"


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(timespec="microseconds")
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value, sort_keys=True))
    return value


def row_digest(table: Table, prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The ``row_hash`` of ``row`` (its columns as read back or about to be inserted)."""
    content = {c.name: _canonical(row.get(c.name)) for c in table.columns if c.name not in _HASH_COLUMNS}
    payload = json.dumps({"table": table.name, "prev": prev_hash, "row": content},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


def append_chained(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """Insert one row linked to the current last row; returns its id."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))
    last = conn.execute(select(table.c.id, table.c.row_hash).order_by(table.c.id.desc()).limit(1)).first()
    row = {k: _utc(v) for k, v in values.items()}
    for column in table.columns:  # hash what will be stored, column defaults included
        if column.name not in row and column.default is not None and column.default.is_scalar:
            row[column.name] = column.default.arg  # type: ignore[attr-defined]
    row["id"] = (last.id if last is not None else 0) + 1
    prev = (last.row_hash if last is not None else None) or GENESIS
    conn.execute(insert(table).values(**row, prev_hash=prev, row_hash=row_digest(table, prev, row)))
    return int(row["id"])


def seal(conn: Connection, table: Table) -> int:
    """Compute the chain of rows written before the hash columns existed (an upgrade only:
    the caller has dropped the table's UPDATE trigger); returns how many rows were sealed."""
    prev = GENESIS
    count = 0
    for row in conn.execute(select(table).order_by(table.c.id)).mappings().all():
        digest = row_digest(table, prev, row)
        conn.execute(table.update().where(table.c.id == row["id"]).values(prev_hash=prev, row_hash=digest))
        prev, count = digest, count + 1
    return count


@dataclass(frozen=True)
class ChainState:
    """What :func:`verify_chain` found: the first break (None: intact), the rows checked, and
    the last good row as an anchor ``table#id:hash`` (keep it: a later verify must contain it)."""

    broken: ChainBreak | None
    rows: int
    anchor: str


def verify_chain(conn: Connection, table: Table) -> ChainState:
    """Walk ``table`` in id order, checking each row's hash and its link to the row before."""
    prev = GENESIS
    count, last_id = 0, 0

    def state(broken: ChainBreak | None) -> ChainState:
        return ChainState(broken, count, f"{table.name}#{last_id}:{prev}")

    try:
        for row in conn.execute(select(table).order_by(table.c.id)).mappings():
            problem = _link_problem(table, prev, row)
            if problem is not None:
                return state(ChainBreak(table.name, row["id"], problem))
            prev, count, last_id = row["row_hash"], count + 1, row["id"]
    except (ValueError, TypeError) as exc:  # a value sparkfs never writes (e.g. a bad timestamp)
        return state(ChainBreak(table.name, last_id + 1, f"cannot be read ({exc}): it was written "
                                "outside sparkfs"))
    return state(None)


def check_anchor(conn: Connection, tables: Mapping[str, Table], anchor: str) -> str | None:
    """Why the registry no longer holds ``anchor`` (``table#id:hash``), or None if it does."""
    name, _, rest = anchor.partition("#")
    row_id, _, digest = rest.partition(":")
    if name not in tables or not row_id.isdigit() or len(digest) != 64:
        return f"anchor {anchor!r} is not of the form TABLE#ID:HASH with TABLE one of {', '.join(tables)}"
    table = tables[name]
    found = conn.execute(select(table.c.row_hash).where(table.c.id == int(row_id))).first()
    if found is None:
        return f"anchor {name}#{row_id}: the row is gone (the table was cut back to before it)"
    if found.row_hash != digest:
        return (f"anchor {name}#{row_id}: its hash is now {found.row_hash}, not the anchored "
                f"{digest[:16]}...: the chain was rewritten from this row or earlier")
    return None


def _link_problem(table: Table, prev: str, row: Mapping[Any, Any]) -> str | None:
    if row["row_hash"] is None:
        return "has no hash: it was written outside sparkfs (a forged INSERT)"
    if row["prev_hash"] != prev:
        return ("does not link to the row before it: a row was removed, inserted or replaced "
                "before this one")
    if row["row_hash"] != row_digest(table, prev, row):
        return ("its content does not match its hash: it was changed after it was written "
                "(e.g. by REPLACE INTO)")
    return None
