"""The governance checklist: pass / warn / fail, with the reason, per view, service and training set.

Each rule is a small function of what :class:`~sparkfs.portal.readmodel.CatalogReader` read;
docs/catalog.md lists them. Approval rules read the review lifecycle itself, not
``governance.enabled``: with governance off nothing was approved, and the checklist says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from sqlalchemy import and_, select

from sparkfs.config import CatalogConfig
from sparkfs.durations import format_duration
from sparkfs.errors import NotFoundError, SparkfsError
from sparkfs.governance.lifecycle import ReviewBoard, ReviewState
from sparkfs.portal.pages import fmt_age
from sparkfs.portal.readmodel import (
    OFFLINE_JOBS,
    CatalogReader,
    ServiceSummary,
    ViewSummary,
    is_pii,
)
from sparkfs.registry.integrity import IntegrityReport
from sparkfs.registry.schema import runs
from sparkfs.registry.training_sets import TrainingSetRecord
from sparkfs.report.delta_versions import check_version

__all__ = ["LEVELS", "Check", "Level", "Subject", "checklist", "integrity_check", "worst"]

Level = Literal["pass", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("pass", "warn", "fail")

#: Feature names that usually hold personal data; untagged, they earn a warning.
_PERSONAL = re.compile(r"(^|_)(e?mail|phone|ssn|address|birth|dob|first_name|last_name|"
                       r"full_name|ip_address|passport|iban)(_|$)")


@dataclass(frozen=True)
class Check:
    item: str
    level: Level
    reason: str


@dataclass(frozen=True)
class Subject:
    """What one group of checks is about: a feature view, service, training set or the registry."""

    kind: str
    name: str
    version: str
    checks: tuple[Check, ...]

    @property
    def level(self) -> Level:
        return worst(c.level for c in self.checks)


def worst(levels: Iterable[Level]) -> Level:
    return max(levels, key=LEVELS.index, default="pass")


def _owner_description(kind: str, owner: str, description: str) -> Check:
    if not owner.strip():
        return Check("owner and description", "fail", f"no owner: set `owner:` on the {kind}")
    if not description.strip():
        return Check("owner and description", "warn",
                     f"owner {owner}, but no description: say what the {kind} is for")
    return Check("owner and description", "pass", f"owner {owner}; described")


def _pii(view: ViewSummary) -> Check:
    tags = view.definition.tags
    tagged = [f.name for f in view.features if "pii" in f.tags]
    pii_features = [f.name for f in view.features if f.pii]
    if "pii" in tags and not is_pii(tags) and pii_features:
        return Check("PII tagged", "fail",
                     f"the view is tagged pii: {tags['pii']} but its features "
                     f"{', '.join(pii_features)} are tagged PII; fix one of the tags")
    untagged = [f.name for f in view.features if _PERSONAL.search(f.name) and not f.pii
                and not is_pii(tags)]
    if untagged:
        return Check("PII tagged", "warn",
                     f"{', '.join(untagged)} look like personal data but carry no pii tag; tag "
                     "them pii: \"true\" (or the view pii: \"false\" after checking)")
    if "pii" not in tags and not tagged:
        return Check("PII tagged", "warn",
                     "no pii tag on the view or its features: declare pii: \"true\" or \"false\"")
    if view.pii:
        return Check("PII tagged", "pass",
                     f"PII: {', '.join(pii_features) or 'the whole view'} (tagged)")
    return Check("PII tagged", "pass", "declared not PII")


def _approved_by_other(state: ReviewState, governance_on: bool) -> Check:
    name, version = state.name, state.version
    others = [u for u in state.approvals if u != state.author]
    if state.state == "approved" and others:
        return Check("approved by someone else", "pass",
                     f"version {version} by {state.author}, approved by {', '.join(others)}")
    off = "" if governance_on else " (governance.enabled is false, so nothing asked for it)"
    return Check("approved by someone else", "fail",
                 f"version {version} by {state.author} is {state.state}{off}; "
                 f"`sparkfs review request {name}` and have one of "
                 f"{', '.join(u for u in state.eligible if u != state.author) or 'the approvers'} "
                 "approve it")


def _quality(reader: CatalogReader, view: ViewSummary) -> Check:
    if not view.definition.expectations:
        return Check("quality gates", "fail",
                     "no expectations declared: add `expectations:` (not_null, range, ...) so a "
                     "bad batch is stopped before it is committed")
    points = reader.quality(view.name, limit=1)
    if not points:
        return Check("quality gates", "fail",
                     f"{len(view.definition.expectations)} expectation(s) declared but no gate "
                     f"result recorded: run `sparkfs materialize {view.name}`")
    last = points[-1]
    if last.failed:
        return Check("quality gates", "fail", f"the last run ({last.at:%Y-%m-%d %H:%M}) failed "
                     f"{last.failed} rule(s): {'; '.join(last.failures)}")
    if last.warned:
        return Check("quality gates", "warn", f"the last run passed with {last.warned} "
                     f"warning(s): {'; '.join(last.failures)}")
    return Check("quality gates", "pass",
                 f"all {last.passed} rule(s) passed on the last run ({last.at:%Y-%m-%d %H:%M})")


def _ttl(view: ViewSummary) -> Check:
    if view.definition.ttl is None:
        return Check("ttl set", "fail", "no ttl: a value of any age would be served and joined; "
                     "set `ttl:` to how old a value may be")
    return Check("ttl set", "pass", f"ttl {format_duration(view.definition.ttl)}")


def _offline_fresh(view: ViewSummary, sla: timedelta) -> Check:
    f = view.freshness
    if f.offline_age is None:
        return Check("offline freshness", "fail",
                     f"never materialized: `sparkfs materialize {view.name}`")
    if f.offline_age > sla:
        return Check("offline freshness", "fail", f"last materialized {fmt_age(f.offline_age)} ago, "
                     f"over the SLA of {format_duration(sla)}: run or schedule its materialization")
    return Check("offline freshness", "pass",
                 f"materialized {fmt_age(f.offline_age)} ago (SLA {format_duration(sla)})")


def _online_fresh(view: ViewSummary, sla: timedelta) -> Check:
    f = view.freshness
    if not view.definition.online:
        return Check("online freshness", "pass", "offline only (online: false)")
    if f.online_age is None:
        return Check("online freshness", "fail", f"never synced: `sparkfs sync {view.name}`")
    if f.synced_definition != view.version:
        return Check("online freshness", "fail",
                     f"Redis holds version {f.synced_definition}, the head is {view.version}: "
                     f"`sparkfs sync {view.name}`")
    if f.online_age > sla or (f.lag is not None and f.lag > sla):
        return Check("online freshness", "fail",
                     f"last sync {fmt_age(f.online_age)} ago, {fmt_age(f.lag)} behind the offline "
                     f"table, over the SLA of {format_duration(sla)}: run or schedule `sparkfs sync`")
    return Check("online freshness", "pass", f"synced {fmt_age(f.online_age)} ago, "
                 f"{fmt_age(f.lag)} behind offline (SLA {format_duration(sla)})")


def _served_approved(board: ReviewBoard, view: ViewSummary) -> Check:
    served = view.freshness.synced_definition
    if served is None:
        return Check("nothing unapproved served", "pass", "nothing in the online store")
    state: str
    try:
        state = (view.review.state if served == view.version
                 else board.state("feature_view", view.name, served).state)
    except NotFoundError:
        state = "not in the registry"
    if state != "approved":
        return Check("nothing unapproved served", "fail",
                     f"the online store serves version {served}, which is {state}")
    return Check("nothing unapproved served", "pass", f"serves approved version {served}")


def _views_approved(service: ServiceSummary, views: dict[str, ViewSummary]) -> Check:
    bad = []
    for name in service.views:
        view = views.get(name)
        if view is None:
            bad.append(f"{name} (not applied)")
        elif view.review.state != "approved":
            bad.append(f"{name} ({view.review.state})")
    if bad:
        return Check("nothing unapproved served", "fail",
                     f"reads views that are not approved: {', '.join(bad)}")
    return Check("nothing unapproved served", "pass",
                 f"all {len(service.views)} view(s) it reads are approved")


def _table_of(reader: CatalogReader, view: str, version: str, namespace: str) -> str | None:
    query = (select(runs.c.details)
             .where(and_(runs.c.feature_view == view, runs.c.version == version,
                         runs.c.job.in_(OFFLINE_JOBS), runs.c.status == "succeeded",
                         runs.c.namespace == namespace))
             .order_by(runs.c.started_at.desc()).limit(1))
    with reader.workspace.engine.connect() as conn:
        row = conn.execute(query).first()
    table = (row.details or {}).get("table") if row is not None else None
    return str(table) if table else None


def _path_exists(path: str) -> bool | None:
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(parsed.path if parsed.scheme else path).exists()


def _reproducible(reader: CatalogReader, record: TrainingSetRecord) -> Check:
    namespace = (record.options or {}).get("namespace", "production")
    problems: list[str] = []
    unknown: list[str] = []
    if _path_exists(record.spine) is False:
        problems.append(f"its spine {record.spine} is gone")
    for view, version in sorted(record.definition_versions.items()):
        try:
            reader.workspace.definitions.spec("feature_view", view, version)
        except SparkfsError as exc:
            problems.append(f"{view}: {exc}")
            continue
        delta = record.table_versions.get(view)
        table = _table_of(reader, view, version, namespace)
        if delta is None or table is None:
            problems.append(f"{view}: no recorded table for version {version}")
            continue
        found = check_version(table, int(delta))
        if found.readable is False:
            problems.append(f"{view}: {found.reason}")
        elif found.readable is None:
            unknown.append(f"{view}: {found.reason}")
    command = f"`sparkfs training-set reproduce {record.id} --out DIR`"
    if problems:
        return Check("reproducible", "fail", "cannot be rebuilt: " + "; ".join(problems))
    if unknown:
        return Check("reproducible", "warn", "; ".join(unknown))
    return Check("reproducible", "pass", f"every Delta version it read is still there: {command}")


def integrity_check(report: IntegrityReport) -> Check:
    if report.intact:
        rows = ", ".join(f"{t} {n}" for t, n in report.rows.items())
        return Check("audit log intact", "pass", f"`sparkfs audit verify` passes ({rows} rows)")
    more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
    return Check("audit log intact", "fail",
                 f"the registry fails `sparkfs audit verify`: {report.problems[0]}{more}; nothing "
                 "else in this report can be trusted: restore the registry from a backup")


def checklist(reader: CatalogReader, config: CatalogConfig,
              integrity: IntegrityReport) -> list[Subject]:
    """Every subject with its checks: the registry first, then views, services, training sets."""
    ws = reader.workspace
    board = ReviewBoard(ws.engine, ws.config.governance)
    governance_on = ws.config.governance.enabled
    subjects = [Subject("registry", ws.config.project, "", (integrity_check(integrity),))]
    views = {v.name: v for v in reader.views()}
    for view in views.values():
        sla = config.sla(view.name)
        subjects.append(Subject("feature_view", view.name, view.version, (
            _owner_description("feature view", view.owner, view.definition.description),
            _pii(view),
            _approved_by_other(view.review, governance_on),
            _quality(reader, view),
            _ttl(view),
            _offline_fresh(view, sla.offline_max_age),
            _online_fresh(view, sla.online_max_age),
            _served_approved(board, view))))
    for service in reader.services():
        d = service.definition
        subjects.append(Subject("feature_service", service.name, service.version, (
            _owner_description("feature service", d.owner, d.description),
            _approved_by_other(service.review, governance_on),
            _views_approved(service, views))))
    for record in reader.training_sets():
        subjects.append(Subject("training_set", record.id, record.feature_service or "",
                                (_reproducible(reader, record),)))
    return subjects
