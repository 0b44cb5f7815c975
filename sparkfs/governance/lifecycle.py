"""The review lifecycle of definition versions, derived from the append-only ``reviews`` table.

::

    draft ──request──▶ in_review ──approve (enough)──▶ approved ──deprecate──▶ deprecated
                          │  ▲
                    reject│  │request (again)
                          ▼  │
                        rejected

A version that was applied and never reviewed is a *draft*. Nothing is ever updated: every
action is a new ``reviews`` row, and the state is recomputed from the rows and the current
approval policy (an approver removed from the config no longer counts). Every action and every
refusal is also written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NoReturn

from sqlalchemy import Engine, and_, select

from sparkfs.config import GovernanceConfig
from sparkfs.control_chars import refuse_control
from sparkfs.errors import GovernanceError, NotFoundError
from sparkfs.governance.policy import ApprovalPolicy
from sparkfs.registry.audit import AuditLog
from sparkfs.registry.chain import append_chained
from sparkfs.registry.schema import reviews
from sparkfs.registry.versions import DefinitionStore, VersionRecord

__all__ = ["ReviewAction", "ReviewBoard", "ReviewState", "State"]

State = Literal["draft", "in_review", "approved", "rejected", "deprecated"]
ReviewAction = Literal["request", "approve", "reject", "deprecate"]


@dataclass(frozen=True)
class ReviewState:
    """Where one definition version stands, and what it still needs."""

    kind: str
    name: str
    version: str
    state: State
    author: str
    current: bool
    approvals: tuple[str, ...]
    required: int
    eligible: tuple[str, ...]
    missing: tuple[str, ...]
    last_action_at: datetime | None
    requested_by: str | None = None  # who put the current review cycle up (the last request)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.name!r} version {self.version}"


@dataclass(frozen=True)
class _Row:
    action: str
    user: str
    at: datetime


def _derive(rows: list[_Row], policy: ApprovalPolicy) -> tuple[State, tuple[str, ...]]:
    """Replay the actions of one version; approvals count since the last request."""
    state: State = "draft"
    approvals: list[str] = []
    for row in rows:
        if row.action == "request":
            state, approvals = "in_review", []
        elif row.action == "approve" and state in ("in_review", "approved"):
            approvals.append(row.user)
            state = "in_review" if policy.missing(approvals) else "approved"
        elif row.action == "reject":
            state, approvals = "rejected", []
        elif row.action == "deprecate":
            state = "deprecated"
    if state == "approved" and policy.missing(approvals):
        state = "in_review"  # the policy tightened since: approvals no longer suffice
    return state, policy.counted(approvals)


class ReviewBoard:
    """Review actions and lifecycle states; refusals raise :class:`GovernanceError`."""

    def __init__(self, engine: Engine, config: GovernanceConfig) -> None:
        self._engine = engine
        self._config = config
        self._definitions = DefinitionStore(engine)
        self._audit = AuditLog(engine)

    # ------------------------------------------------------------------ reading
    def resolve(self, name: str, kind: str | None = None) -> tuple[str, str]:
        """(kind, name) of a definition by name, asking for ``--kind`` when ambiguous."""
        found = [k for k, _ in self._definitions.find(name) if kind is None or k == kind]
        if not found:
            raise NotFoundError(f"no {kind or 'definition'} named {name!r} in the registry; run `sparkfs apply` first")
        if len(found) > 1:
            raise NotFoundError(f"{name!r} names a {' and a '.join(sorted(found))}; pass --kind to choose")
        return found[0], name

    def _record(self, kind: str, name: str, version: str | None) -> VersionRecord:
        history = self._definitions.history(kind, name)
        if version is None:
            current = [r for r in history if r.current]
            if not current:
                raise NotFoundError(f"{kind} {name!r} was removed from the registry; name a version with NAME@VERSION")
            return current[0]
        matches = [r for r in history if r.version.startswith(version)]
        if len(matches) != 1:
            known = ", ".join(r.version for r in history)
            what = "no" if not matches else "more than one"
            raise NotFoundError(f"{what} version of {kind} {name!r} matches {version!r}; known versions: {known}")
        return matches[0]

    def _rows(self, kind: str, name: str, version: str) -> list[_Row]:
        where = and_(reviews.c.kind == kind, reviews.c.name == name, reviews.c.version == version)
        with self._engine.connect() as conn:
            found = conn.execute(select(reviews).where(where).order_by(reviews.c.id)).all()
        return [_Row(r.action, r.user, r.at) for r in found]

    def policy(self, record: VersionRecord) -> ApprovalPolicy:
        return ApprovalPolicy.for_spec(self._config, record.spec)

    def state(self, kind: str, name: str, version: str | None = None) -> ReviewState:
        """The lifecycle state of one version (default: the current one)."""
        record = self._record(kind, name, version)
        policy = self.policy(record)
        rows = self._rows(kind, name, record.version)
        state, approvals = _derive(rows, policy)
        return ReviewState(
            kind=kind, name=name, version=record.version, state=state, author=record.created_by,
            current=record.current, approvals=approvals, required=policy.required,
            eligible=policy.eligible, missing=tuple(policy.missing(approvals)),
            last_action_at=rows[-1].at if rows else None,
            requested_by=next((r.user for r in reversed(rows) if r.action == "request"), None),
        )

    def head_states(self, kind: str | None = None) -> dict[tuple[str, str], ReviewState]:
        """States of every current head (of ``kind``) in two queries, for listings of hundreds
        of definitions; the same states :meth:`state` derives one at a time."""
        heads = {key: v for key, v in self._definitions.heads().items() if kind is None or key[0] == kind}
        records = {(r.kind, r.name): r for r in self._definitions.records(heads)}
        rows: dict[tuple[str, str, str], list[_Row]] = {}
        query = select(reviews).order_by(reviews.c.id)
        if kind is not None:
            query = query.where(reviews.c.kind == kind)
        with self._engine.connect() as conn:
            for r in conn.execute(query):
                rows.setdefault((r.kind, r.name, r.version), []).append(_Row(r.action, r.user, r.at))
        out: dict[tuple[str, str], ReviewState] = {}
        for (k, name), version in sorted(heads.items()):
            record = records[(k, name)]
            policy = self.policy(record)
            found = rows.get((k, name, version), [])
            state, approvals = _derive(found, policy)
            out[(k, name)] = ReviewState(
                kind=k, name=name, version=version, state=state, author=record.created_by,
                current=True, approvals=approvals, required=policy.required,
                eligible=policy.eligible, missing=tuple(policy.missing(approvals)),
                last_action_at=found[-1].at if found else None,
                requested_by=next((r.user for r in reversed(found) if r.action == "request"), None))
        return out

    def status(self, name: str | None = None, kind: str | None = None) -> list[ReviewState]:
        """States of every current definition, or of every version of ``name``."""
        if name is None:
            heads = self._definitions.heads()
            return [self.state(k, n) for (k, n) in sorted(heads) if kind is None or k == kind]
        kind, name = self.resolve(name, kind)
        return [self.state(kind, name, r.version) for r in self._definitions.history(kind, name)]

    # ------------------------------------------------------------------ acting
    def request(self, user: str, name: str, version: str | None = None, *, kind: str | None = None,
                comment: str = "") -> ReviewState:
        """Ask for review: draft or rejected → in_review."""
        current = self._current(name, version, kind, user, comment)
        if current.state not in ("draft", "rejected"):
            self._refuse(user, "request", current, comment,
                         f"{current.ref} is {current.state}; only a draft or rejected version can be put up for review")
        return self._act(user, "request", current, comment)

    def approve(self, user: str, name: str, version: str | None = None, *, kind: str | None = None,
                comment: str = "") -> ReviewState:
        """One approval; the version is approved once the policy's approvals are all there."""
        current = self._current(name, version, kind, user, comment)
        if user == current.author:
            self._refuse(user, "approve", current, comment,
                         f"{user} authored {current.ref} and cannot approve it; ask one of: "
                         f"{', '.join(u for u in current.eligible if u != user) or 'no other approver configured'}")
        if self._config.identity != "trusted" and user == current.requested_by:
            self._refuse(user, "approve", current, comment,
                         f"{user} requested the review of {current.ref} and cannot approve it "
                         f"(governance.identity: {self._config.identity}); ask one of: "
                         f"{', '.join(u for u in current.eligible if u != user) or 'no other approver configured'}")
        if user not in current.eligible:
            self._refuse(user, "approve", current, comment,
                         f"{user} is not an approver of {current.ref}; approvers: {', '.join(current.eligible) or 'none configured (governance.approvers)'}")
        if not current.current:
            self._refuse(user, "approve", current, comment,
                         f"{current.ref} is stale: it is not the current applied version "
                         f"({self._head_text(current)}); review the current version instead")
        if current.state != "in_review":
            self._refuse(user, "approve", current, comment,
                         f"{current.ref} is {current.state}; only a version in review can be approved"
                         + (" (run `sparkfs review request` first)" if current.state in ("draft", "rejected") else ""))
        if user in current.approvals:
            self._refuse(user, "approve", current, comment, f"{user} already approved {current.ref}")
        return self._act(user, "approve", current, comment)

    def reject(self, user: str, name: str, version: str | None = None, *, kind: str | None = None,
               comment: str = "") -> ReviewState:
        """in_review (or approved) → rejected; approvals are discarded."""
        current = self._current(name, version, kind, user, comment)
        if user not in current.eligible:
            self._refuse(user, "reject", current, comment,
                         f"{user} is not an approver of {current.ref}; approvers: {', '.join(current.eligible) or 'none configured'}")
        if current.state not in ("in_review", "approved"):
            self._refuse(user, "reject", current, comment, f"{current.ref} is {current.state}; only a version in review or approved can be rejected")
        return self._act(user, "reject", current, comment)

    def deprecate(self, user: str, name: str, version: str | None = None, *, kind: str | None = None,
                  comment: str = "") -> ReviewState:
        """approved → deprecated (by an approver or the author); no longer usable in production."""
        current = self._current(name, version, kind, user, comment)
        if user not in current.eligible and user != current.author:
            self._refuse(user, "deprecate", current, comment,
                         f"{user} may not deprecate {current.ref}; its author {current.author} or an approver "
                         f"({', '.join(current.eligible) or 'none configured'}) can")
        if current.state != "approved":
            self._refuse(user, "deprecate", current, comment, f"{current.ref} is {current.state}; only an approved version can be deprecated")
        return self._act(user, "deprecate", current, comment)

    def refuse(self, user: str, action: str, name: str, version: str | None = None, *,
               kind: str | None = None, comment: str = "", reason: str) -> NoReturn:
        """Audit a refused review ``action`` on a definition and raise (e.g. an identity that
        may not act: :func:`sparkfs.governance.identity.review_refusal`).

        Raises:
            GovernanceError: always, with ``reason``.
        """
        self._refuse(user, action, self._current(name, version, kind, user, comment), comment, reason)

    def _current(self, name: str, version: str | None, kind: str | None, user: str = "",
                 comment: str = "") -> ReviewState:
        refuse_control(user, "the user name")
        refuse_control(comment, "the comment (--comment)")
        if version is None and "@" in name:  # NAME@VERSION, as on the command line
            name, version = name.split("@", 1)
        resolved_kind, resolved = self.resolve(name, kind)
        return self.state(resolved_kind, resolved, version)

    def _head_text(self, state: ReviewState) -> str:
        head = self._definitions.heads().get((state.kind, state.name))
        return f"the current one is {head}" if head else "the definition was removed"

    def _act(self, user: str, action: ReviewAction, current: ReviewState, comment: str) -> ReviewState:
        now = datetime.now(UTC)
        replay = [*self._rows(current.kind, current.name, current.version), _Row(action, user, now)]
        after = _derive(replay, self._policy_of(current))[0]
        with self._engine.begin() as conn:  # the review row and its audit entry commit together
            append_chained(conn, reviews, {"kind": current.kind, "name": current.name, "version": current.version,
                                           "action": action, "user": user, "comment": comment, "at": now})
            AuditLog.append_in(conn, user=user, action=f"review.{action}", kind=current.kind, name=current.name,
                               version=current.version, outcome="ok", comment=comment,
                               details={"from": current.state, "to": after})
        return self.state(current.kind, current.name, current.version)

    def _policy_of(self, current: ReviewState) -> ApprovalPolicy:
        return self.policy(self._record(current.kind, current.name, current.version))

    def _refuse(self, user: str, action: str, current: ReviewState, comment: str, reason: str) -> NoReturn:
        self._audit.append(user=user, action=f"review.{action}", kind=current.kind, name=current.name,
                           version=current.version, outcome="refused", comment=comment,
                           details={"reason": reason, "state": current.state})
        raise GovernanceError(reason)
