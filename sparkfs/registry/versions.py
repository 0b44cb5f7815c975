"""Definition versions in the registry: plan, apply, list and history.

``apply`` runs in one write transaction (serialised across processes, see
:mod:`sparkfs.registry.database`): a version is inserted once, never edited, and the head
pointer moves to it. Applying the same repository twice records nothing new. A version is the
hash of its spec, so every spec read here is checked against its version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from sparkfs.definitions import canonical_spec, spec_version
from sparkfs.definitions.loader import Repository
from sparkfs.errors import NotFoundError, RegistryError, TamperedRegistryError
from sparkfs.registry.audit import AuditLog
from sparkfs.registry.schema import definition_heads, definition_versions

__all__ = ["Change", "DefinitionStore", "Plan", "VersionRecord", "diff_specs"]


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str  # "add" | "change" | "remove"
    old_version: str | None
    new_version: str | None
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)  # (path, old, new)


@dataclass(frozen=True)
class Plan:
    changes: list[Change]

    @property
    def empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class VersionRecord:
    kind: str
    name: str
    version: str
    spec: dict[str, Any]
    created_at: datetime
    created_by: str
    current: bool


def diff_specs(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Field-level differences between two canonical specs (dotted paths)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            out += diff_specs(old.get(key), new.get(key), sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += diff_specs(a, b, f"{path}[{i}]")
        return out
    return [] if old == new else [(path, old, new)]


class DefinitionStore:
    """Reads and writes definition versions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def heads(self, include_removed: bool = False) -> dict[tuple[str, str], str]:
        with self._engine.connect() as conn:
            return _heads(conn, include_removed)

    def spec(self, kind: str, name: str, version: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            return _spec(conn, kind, name, version)

    def plan(self, repo: Repository) -> Plan:
        with self._engine.connect() as conn:
            return _plan(conn, repo)

    def apply(self, repo: Repository, user: str) -> Plan:
        """Record the repository; returns what changed (empty when nothing did)."""
        for attempt in range(5):
            try:
                return self._apply_once(repo, user)
            except (IntegrityError, OperationalError) as exc:
                if attempt == 4:
                    raise RegistryError(
                        f"apply failed after retries: {exc.__class__.__name__}: {exc}; "
                        "another apply may be holding the registry, try again"
                    ) from exc
        raise AssertionError("unreachable")

    def _apply_once(self, repo: Repository, user: str) -> Plan:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: serialised
            plan = _plan(conn, repo)  # re-planned under the write lock
            specs = {(k, n): d for k, n, d in repo.all()}
            for change in plan.changes:
                key = (change.kind, change.name)
                if change.action in ("add", "change"):
                    assert change.new_version is not None
                    exists = conn.execute(
                        select(definition_versions.c.id).where(
                            and_(
                                definition_versions.c.kind == change.kind,
                                definition_versions.c.name == change.name,
                                definition_versions.c.version == change.new_version,
                            )
                        )
                    ).first()
                    if exists is None:
                        conn.execute(
                            insert(definition_versions).values(
                                kind=change.kind, name=change.name, version=change.new_version,
                                spec=canonical_spec(specs[key]), created_at=now, created_by=user,
                            )
                        )
                    self._set_head(conn, change.kind, change.name, change.new_version, False, now)
                else:
                    assert change.old_version is not None
                    self._set_head(conn, change.kind, change.name, change.old_version, True, now)
                AuditLog.append_in(
                    conn, user=user, action=f"apply.{change.action}", kind=change.kind,
                    name=change.name, version=change.new_version or change.old_version,
                    outcome="ok", details={"previous_version": change.old_version},
                )
        return plan

    @staticmethod
    def _set_head(conn: Any, kind: str, name: str, version: str, removed: bool, now: datetime) -> None:
        where = and_(definition_heads.c.kind == kind, definition_heads.c.name == name)
        if conn.execute(select(definition_heads.c.kind).where(where)).first() is None:
            conn.execute(
                insert(definition_heads).values(
                    kind=kind, name=name, version=version, removed=removed, updated_at=now
                )
            )
        else:
            conn.execute(
                update(definition_heads).where(where).values(version=version, removed=removed, updated_at=now)
            )

    def history(self, kind: str, name: str) -> list[VersionRecord]:
        heads = self.heads()
        query = (
            select(definition_versions)
            .where(and_(definition_versions.c.kind == kind, definition_versions.c.name == name))
            .order_by(definition_versions.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            VersionRecord(
                kind=r.kind, name=r.name, version=r.version, spec=checked_spec(r.kind, r.name, r.version, r.spec),
                created_at=r.created_at, created_by=r.created_by,
                current=heads.get((kind, name)) == r.version,
            )
            for r in rows
        ]

    def records(self, versions: dict[tuple[str, str], str]) -> list[VersionRecord]:
        """The records of the given (kind, name) -> version pairs (e.g. the heads) in one query;
        every spec checked against its version."""
        wanted = {(k, n, v) for (k, n), v in versions.items()}
        heads = self.heads()
        query = select(definition_versions).order_by(definition_versions.c.id)
        with self._engine.connect() as conn:
            rows = [r for r in conn.execute(query) if (r.kind, r.name, r.version) in wanted]
        return [VersionRecord(kind=r.kind, name=r.name, version=r.version,
                              spec=checked_spec(r.kind, r.name, r.version, r.spec),
                              created_at=r.created_at, created_by=r.created_by,
                              current=heads.get((r.kind, r.name)) == r.version)
                for r in rows]

    def find(self, name: str) -> list[tuple[str, str]]:
        """(kind, name) pairs with this name, current or removed."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(definition_versions.c.kind, definition_versions.c.name)
                .where(definition_versions.c.name == name)
                .distinct()
            ).all()
        return [(r.kind, r.name) for r in rows]


def _heads(conn: Connection, include_removed: bool = False) -> dict[tuple[str, str], str]:
    query = select(definition_heads.c.kind, definition_heads.c.name, definition_heads.c.version)
    if not include_removed:
        query = query.where(definition_heads.c.removed.is_(False))
    return {(r.kind, r.name): r.version for r in conn.execute(query)}


def _spec(conn: Connection, kind: str, name: str, version: str) -> dict[str, Any]:
    query = select(definition_versions.c.spec).where(
        and_(
            definition_versions.c.kind == kind,
            definition_versions.c.name == name,
            definition_versions.c.version == version,
        )
    )
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no {kind} {name!r} at version {version} in the registry")
    return checked_spec(kind, name, version, row.spec)


def checked_spec(kind: str, name: str, version: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` as read from ``definition_versions``, if it still hashes to its version.

    Raises:
        TamperedRegistryError: the stored spec was changed after it was applied.
    """
    if spec_version(kind, spec) != version:
        raise TamperedRegistryError(
            f"definition_versions: the stored spec of {kind} {name!r} version {version} does not "
            "hash to its version: it was changed after it was applied (not by sparkfs); run "
            "`sparkfs audit verify` and restore the registry from a backup")
    return dict(spec)


def _plan(conn: Connection, repo: Repository) -> Plan:
    current = _heads(conn)
    definitions = {(kind, name): d for kind, name, d in repo.all()}
    changes: list[Change] = []
    for (kind, name), version in sorted(repo.versions().items()):
        old = current.get((kind, name))
        if old is None:
            changes.append(Change(kind, name, "add", None, version))
        elif old != version:
            fields = diff_specs(_spec(conn, kind, name, old), canonical_spec(definitions[(kind, name)]))
            changes.append(Change(kind, name, "change", old, version, fields))
    for (kind, name), old in sorted(current.items()):
        if (kind, name) not in definitions:
            changes.append(Change(kind, name, "remove", old, None))
    return Plan(changes)
