"""Verification of the registry: is its history what sparkfs wrote?

:func:`verify_registry` checks, in order, and reports every problem it finds (the first one is
"the first broken link"):

1. the hash chains of ``audit_log`` and ``reviews`` (:mod:`sparkfs.registry.chain`), and that
   they still hold any anchors kept from an earlier verification;
2. every ``definition_versions`` spec against its version (a version is the hash of its spec);
3. every definition version against the audit log: an ``apply`` recorded it, by the user named
   as its author (``created_by`` is not part of the hash, the audit chain covers it);
4. ``definition_heads`` against the applies in the audit log (a deleted or moved head);
5. every review action against its audit entry (a review row the audit log does not know).

``sparkfs audit verify`` prints the report; the serving catalog and the governance gate refuse a
registry that fails it (:func:`require_intact`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from sparkfs.definitions import spec_version
from sparkfs.errors import TamperedRegistryError
from sparkfs.registry.chain import check_anchor, verify_chain
from sparkfs.registry.schema import audit_log, definition_heads, definition_versions, reviews

__all__ = ["IntegrityReport", "require_intact", "verify_registry"]


@dataclass(frozen=True)
class IntegrityReport:
    """What verification found: problems (empty when intact), rows checked, chain heads."""

    problems: tuple[str, ...]
    rows: Mapping[str, int] = field(default_factory=dict)
    anchors: Mapping[str, str] = field(default_factory=dict)  # chained table -> table#id:hash

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_registry(engine: Engine, anchors: Sequence[str] = ()) -> IntegrityReport:
    """Check the whole registry (one read transaction); see the module docstring.

    Args:
        anchors: ``table#id:hash`` anchors printed by an earlier verification, which the chains
            must still contain (catches a cut-off tail or a chain recomputed from some row on).
    """
    problems: list[str] = []
    rows: dict[str, int] = {}
    found: dict[str, str] = {}
    tables = {t.name: t for t in (audit_log, reviews)}
    with engine.connect() as conn:
        for table in tables.values():
            chain = verify_chain(conn, table)
            rows[table.name], found[table.name] = chain.rows, chain.anchor
            if chain.broken is not None:
                problems.append(str(chain.broken))
        problems += [p for a in anchors if (p := check_anchor(conn, tables, a)) is not None]
        problems += _versions(conn, rows)
        problems += _heads(conn)
        problems += _reviews(conn)
    return IntegrityReport(tuple(problems), rows, found)


def require_intact(registry: Engine | IntegrityReport, who: str) -> None:
    """Raise unless the registry (verified now, or the report of an earlier verification) is intact.

    Args:
        who: what refuses, for the message ("the server", "the governance gate").

    Raises:
        TamperedRegistryError: naming the first broken link and what to do.
    """
    report = registry if isinstance(registry, IntegrityReport) else verify_registry(registry)
    if not report.intact:
        more = f" (and {len(report.problems) - 1} more problem(s))" if len(report.problems) > 1 else ""
        raise TamperedRegistryError(
            f"{who} refuses the registry: it fails verification: {report.problems[0]}{more}; "
            "run `sparkfs audit verify` for the report and restore the registry from a backup")


def _applies(conn: Connection) -> list[tuple[str, str, str, str, str]]:
    """(action, kind, name, version, user) of every successful apply, oldest first."""
    query = (select(audit_log.c.action, audit_log.c.kind, audit_log.c.name, audit_log.c.version,
                    audit_log.c.user)
             .where(audit_log.c.action.like("apply.%"), audit_log.c.outcome == "ok")
             .order_by(audit_log.c.id))
    return [(r.action, r.kind, r.name, r.version, r.user) for r in conn.execute(query)]


def _versions(conn: Connection, rows: dict[str, int]) -> list[str]:
    authors: dict[tuple[str, str, str], str] = {}
    for action, kind, name, version, user in _applies(conn):
        if action in ("apply.add", "apply.change"):
            authors.setdefault((kind, name, version), user)
    problems = []
    found = conn.execute(select(definition_versions).order_by(definition_versions.c.id)).all()
    rows["definition_versions"] = len(found)
    for r in found:
        where = f"definition_versions row {r.id} ({r.kind} {r.name!r} version {r.version})"
        if spec_version(r.kind, r.spec) != r.version:
            problems.append(f"{where}: its spec does not hash to its version: it was changed after "
                            "it was applied")
        author = authors.get((r.kind, r.name, r.version))
        if author is None:
            problems.append(f"{where}: no apply in the audit log recorded it (a forged INSERT)")
        elif author != r.created_by:
            problems.append(f"{where}: its author reads {r.created_by!r} but {author!r} applied it")
    return problems


def _heads(conn: Connection) -> list[str]:
    expected: dict[tuple[str, str], tuple[str, bool]] = {}
    for action, kind, name, version, _ in _applies(conn):
        expected[(kind, name)] = (version, action == "apply.remove")
    actual = {(r.kind, r.name): (r.version, bool(r.removed))
              for r in conn.execute(select(definition_heads))}
    problems = []
    for key in sorted(set(expected) | set(actual)):
        want, have = expected.get(key), actual.get(key)
        if want == have:
            continue
        where = f"definition_heads ({key[0]} {key[1]!r})"
        if have is None:
            problems.append(f"{where}: missing, but the audit log applied version {want[0] if want else '?'} "
                            "(the row was deleted)")
        elif want is None:
            problems.append(f"{where}: points at version {have[0]} but no apply in the audit log "
                            "recorded it (a forged INSERT)")
        else:
            problems.append(f"{where}: points at version {have[0]}{' (removed)' if have[1] else ''} "
                            f"but the last apply in the audit log left {want[0]}"
                            f"{' (removed)' if want[1] else ''}")
    return problems


def _reviews(conn: Connection) -> list[str]:
    audited = Counter(
        (r.action.removeprefix("review."), r.kind, r.name, r.version, r.user, r.comment)
        for r in conn.execute(select(audit_log).where(audit_log.c.action.like("review.%"),
                                                      audit_log.c.outcome == "ok")))
    problems = []
    for r in conn.execute(select(reviews).order_by(reviews.c.id)):
        key = (r.action, r.kind, r.name, r.version, r.user, r.comment)
        if audited[key] > 0:
            audited[key] -= 1
        else:
            problems.append(f"reviews row {r.id} ({r.action} of {r.kind} {r.name!r} version "
                            f"{r.version} by {r.user!r}): no audit entry records it (a forged INSERT)")
    return problems
