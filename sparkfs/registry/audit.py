"""The append-only audit log.

There is deliberately no update or delete method, and the database rejects both through
triggers (see :mod:`sparkfs.registry.database`). Rows are hash-chained
(:mod:`sparkfs.registry.chain`), so an edit made behind sparkfs's back is detected by
``sparkfs audit verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from sparkfs.control_chars import refuse_control
from sparkfs.registry.chain import append_chained
from sparkfs.registry.schema import audit_log

__all__ = ["AuditEntry", "AuditLog"]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    user: str
    action: str
    kind: str | None
    name: str | None
    version: str | None
    outcome: str
    comment: str
    details: dict[str, Any] | None


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def append_in(
        conn: Connection,
        *,
        user: str,
        action: str,
        outcome: str,
        kind: str | None = None,
        name: str | None = None,
        version: str | None = None,
        comment: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append inside an open transaction (so the entry commits with the change it records).

        Raises:
            ValidationError: ``user`` or ``comment`` holds a control character.
        """
        refuse_control(user, "the user name")
        refuse_control(comment, "the comment")
        append_chained(conn, audit_log, {
            "at": datetime.now(UTC), "user": user, "action": action, "kind": kind, "name": name,
            "version": version, "outcome": outcome, "comment": comment, "details": details,
        })

    def append(self, **fields: Any) -> None:
        with self._engine.begin() as conn:
            self.append_in(conn, **fields)

    def entries(self, name: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(audit_log.c.name == name)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                id=r.id, at=r.at, user=r.user, action=r.action, kind=r.kind, name=r.name,
                version=r.version, outcome=r.outcome, comment=r.comment, details=r.details,
            )
            for r in reversed(rows)
        ]
