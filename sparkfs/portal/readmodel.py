"""The catalog's read model: what the pages and the governance report show, read from the registry.

Everything comes from the registry (applied heads and their stored specs, reviews, runs, quality
results, sync checkpoints, training sets), never from the YAML files, and never from Spark: the
serving process that renders the pages has no session. Listings read each table once (a few
queries whatever the number of views), so a catalog of hundreds of views stays quick; pages of
one view read only that view's rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from sparkfs.clock import Clock, utc_now
from sparkfs.definitions import Entity, FeatureService, FeatureView
from sparkfs.durations import format_duration
from sparkfs.errors import NotFoundError
from sparkfs.governance.lifecycle import ReviewBoard, ReviewState
from sparkfs.registry.runs import RunRecord
from sparkfs.registry.schema import quality_results, reviews, runs, sync_checkpoints
from sparkfs.registry.training_sets import TrainingSetRecord, TrainingSetStore
from sparkfs.registry.versions import diff_specs

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = [
    "CatalogReader",
    "EntitySummary",
    "FeatureRow",
    "Freshness",
    "QualityPoint",
    "ReviewEntry",
    "ServiceSummary",
    "VersionEntry",
    "ViewDetail",
    "ViewSummary",
    "is_pii",
]

#: Jobs whose success means the offline table of a view was (re)written.
OFFLINE_JOBS = ("materialize", "backfill")
#: The batch-metrics pseudo-rule of :mod:`sparkfs.registry.quality_results` (not a rule to chart).
_BATCH_RULE = "__batch__"


def is_pii(tags: Mapping[str, str]) -> bool:
    """A ``pii`` tag with a value other than ``false`` (the rule of the approval policy)."""
    return str(tags.get("pii", "false")).lower() not in ("false", "")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Freshness:
    """How current a view is offline (last materialization) and online (last sync)."""

    online: bool
    last_materialized: datetime | None
    offline_version: int | None
    offline_age: timedelta | None
    last_synced: datetime | None
    synced_version: int | None
    synced_definition: str | None
    online_age: timedelta | None
    #: how far the online store trails the offline table: the time between the newest offline
    #: write and the sync that last caught up (zero when the sync read the newest version)
    lag: timedelta | None

    def within(self, offline_max_age: timedelta, online_max_age: timedelta) -> bool:
        if self.offline_age is None or self.offline_age > offline_max_age:
            return False
        if not self.online:
            return True
        return (self.online_age is not None and self.online_age <= online_max_age
                and self.lag is not None and self.lag <= online_max_age)


@dataclass(frozen=True)
class FeatureRow:
    name: str
    type: str
    description: str
    tags: dict[str, str]

    @property
    def pii(self) -> bool:
        return is_pii(self.tags)


@dataclass(frozen=True)
class ViewSummary:
    """One feature view head, as a listing row."""

    name: str
    version: str
    definition: FeatureView
    review: ReviewState
    approved: bool
    freshness: Freshness
    features: tuple[FeatureRow, ...]

    @property
    def owner(self) -> str:
        return self.definition.owner

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.definition.tags)

    @property
    def pii(self) -> bool:
        return is_pii(self.definition.tags) or any(f.pii for f in self.features)


@dataclass(frozen=True)
class ServiceSummary:
    name: str
    version: str
    definition: FeatureService
    review: ReviewState
    approved: bool
    views: tuple[str, ...]


@dataclass(frozen=True)
class EntitySummary:
    name: str
    version: str
    definition: Entity


@dataclass(frozen=True)
class VersionEntry:
    version: str
    created_at: datetime
    created_by: str
    current: bool
    state: str
    #: field-level changes from the previous version: (dotted path, old, new)
    diff: tuple[tuple[str, Any, Any], ...]


@dataclass(frozen=True)
class ReviewEntry:
    version: str
    action: str
    user: str
    comment: str
    at: datetime


@dataclass(frozen=True)
class QualityPoint:
    """The gate results of one run: how many rules passed, failed (error) and warned."""

    run_id: str
    at: datetime
    passed: int
    failed: int
    warned: int
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ViewDetail:
    summary: ViewSummary
    keys: tuple[tuple[str, str], ...]
    versions: tuple[VersionEntry, ...]
    reviews: tuple[ReviewEntry, ...]
    runs: tuple[RunRecord, ...]
    quality: tuple[QualityPoint, ...]
    services: tuple[str, ...]
    training_sets: tuple[TrainingSetRecord, ...]
    lookup_request: str
    windows: tuple[str, ...] = field(default_factory=tuple)


class CatalogReader:
    """Reads the catalog's content from a workspace's registry (production namespace)."""

    def __init__(self, workspace: Workspace, clock: Clock = utc_now) -> None:
        self.workspace = workspace
        self.clock = clock
        self._board = ReviewBoard(workspace.engine, workspace.config.governance)

    # ------------------------------------------------------------------ listings
    def _heads(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, version, spec) of every head of ``kind``, by name (two queries)."""
        heads = {key: v for key, v in self.workspace.definitions.heads().items() if key[0] == kind}
        records = self.workspace.definitions.records(heads)
        return sorted((r.name, r.version, r.spec) for r in records)

    def _approved(self, state: ReviewState) -> bool:
        return not self.workspace.config.governance.enabled or state.state == "approved"

    def views(self) -> list[ViewSummary]:
        """Every applied feature view head, with its review state and freshness."""
        offline = self._last_offline_runs()
        syncs = self._syncs()
        now = self.clock()
        states = self._board.head_states("feature_view")
        return [self._summary(name, version, spec, offline, syncs, now,
                              states[("feature_view", name)])
                for name, version, spec in self._heads("feature_view")]

    def _summary(self, name: str, version: str, spec: dict[str, Any],
                 offline: Mapping[str, tuple[datetime, int | None]], syncs: Mapping[str, Any],
                 now: datetime, review: ReviewState) -> ViewSummary:
        view = FeatureView.model_validate(spec)
        return ViewSummary(
            name=name, version=version, definition=view, review=review,
            approved=self._approved(review),
            freshness=_freshness(view, offline.get(name), syncs.get(name), now),
            features=_feature_rows(view))

    def services(self) -> list[ServiceSummary]:
        states = self._board.head_states("feature_service")
        out = []
        for name, version, spec in self._heads("feature_service"):
            service = FeatureService.model_validate(spec)
            review = states[("feature_service", name)]
            views = tuple(dict.fromkeys(ref.split(":", 1)[0] for ref in service.features))
            out.append(ServiceSummary(name, version, service, review, self._approved(review), views))
        return out

    def entities(self) -> list[EntitySummary]:
        return [EntitySummary(name, version, Entity.model_validate(spec))
                for name, version, spec in self._heads("entity")]

    def training_sets(self, limit: int = 10_000) -> list[TrainingSetRecord]:
        return TrainingSetStore(self.workspace.engine).list(limit=limit)

    def training_set(self, training_set_id: str) -> TrainingSetRecord:
        return TrainingSetStore(self.workspace.engine).get(training_set_id)

    # ------------------------------------------------------------------ one view
    def view(self, name: str) -> ViewDetail:
        """Everything the page of one feature view shows.

        Raises:
            NotFoundError: no applied feature view has that name.
        """
        version = self.workspace.definitions.heads().get(("feature_view", name))
        if version is None:
            raise NotFoundError(f"no applied feature view {name!r}; the catalog lists them at "
                                "/catalog", kind="feature_view")
        spec = self.workspace.definitions.spec("feature_view", name, version)
        summary = self._summary(name, version, spec, self._last_offline_runs(), self._syncs(),
                                self.clock(), self._board.state("feature_view", name, version))
        view = summary.definition
        entities = {e.name: e.definition for e in self.entities()}
        keys = tuple((k.name, k.type) for e in view.entities if e in entities
                     for k in entities[e].join_keys)
        services = tuple(s.name for s in self.services() if name in s.views)
        training = tuple(t for t in self.training_sets() if name in t.definition_versions)
        windows = (tuple(format_duration(w) for w in view.aggregations.windows)
                   if view.aggregations is not None else ())
        return ViewDetail(
            summary=summary, keys=keys, versions=self.versions("feature_view", name),
            reviews=self.reviews("feature_view", name),
            runs=tuple(self.workspace.runs.list(feature_view=name, limit=50)),
            quality=self.quality(name), services=services, training_sets=training,
            lookup_request=lookup_request(name, keys), windows=windows)

    def versions(self, kind: str, name: str) -> tuple[VersionEntry, ...]:
        """Every version of a definition, newest first, each with its diff from the one before."""
        history = self.workspace.definitions.history(kind, name)
        out = []
        previous: dict[str, Any] | None = None
        for record in history:
            state = self._board.state(kind, name, record.version).state
            diff = tuple(diff_specs(previous, record.spec)) if previous is not None else ()
            out.append(VersionEntry(record.version, _aware(record.created_at) or record.created_at,
                                    record.created_by, record.current, state, diff))
            previous = record.spec
        return tuple(reversed(out))

    def reviews(self, kind: str, name: str) -> tuple[ReviewEntry, ...]:
        where = and_(reviews.c.kind == kind, reviews.c.name == name)
        with self.workspace.engine.connect() as conn:
            rows = conn.execute(select(reviews).where(where).order_by(reviews.c.id)).all()
        return tuple(ReviewEntry(r.version, r.action, r.user, r.comment or "", _aware(r.at) or r.at)
                     for r in rows)

    def quality(self, name: str, limit: int = 60) -> tuple[QualityPoint, ...]:
        """Gate results of the last ``limit`` runs of a view, oldest first (the chart's order)."""
        query = (select(quality_results)
                 .where(and_(quality_results.c.feature_view == name,
                             quality_results.c.rule != _BATCH_RULE))
                 .order_by(quality_results.c.id))
        with self.workspace.engine.connect() as conn:
            rows = conn.execute(query).all()
        by_run: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_run[row.run_id].append(row)
        points = []
        for run_id, results in by_run.items():
            failed = [r for r in results if not r.passed and r.severity == "error"]
            warned = [r for r in results if not r.passed and r.severity != "error"]
            points.append(QualityPoint(
                run_id, _aware(results[0].at) or results[0].at,
                sum(1 for r in results if r.passed), len(failed), len(warned),
                tuple(f"{r.rule} ({r.failed_count} rows)" for r in failed + warned)))
        points.sort(key=lambda p: p.at)
        return tuple(points[-limit:])

    # ------------------------------------------------------------------ bulk reads
    def _last_offline_runs(self) -> dict[str, tuple[datetime, int | None]]:
        """Per view: end time and Delta version of its newest successful offline write."""
        query = (select(runs.c.feature_view, runs.c.ended_at, runs.c.output_version)
                 .where(and_(runs.c.job.in_(OFFLINE_JOBS), runs.c.status == "succeeded",
                             runs.c.namespace == "production"))
                 .order_by(runs.c.ended_at))
        out: dict[str, tuple[datetime, int | None]] = {}
        with self.workspace.engine.connect() as conn:
            for row in conn.execute(query):
                ended = _aware(row.ended_at)
                if row.feature_view is not None and ended is not None:
                    out[row.feature_view] = (ended, row.output_version)
        return out

    def _syncs(self) -> dict[str, Any]:
        query = select(sync_checkpoints).where(sync_checkpoints.c.namespace == "production")
        with self.workspace.engine.connect() as conn:
            return {r.feature_view: r for r in conn.execute(query)}


def _feature_rows(view: FeatureView) -> tuple[FeatureRow, ...]:
    rows = [FeatureRow(f.name, f.type, f.description, dict(f.tags)) for f in view.features]
    if view.aggregations is not None:
        for agg in view.aggregations.features:
            for window in view.aggregations.windows:
                label = format_duration(window)
                what = f"{agg.function}({agg.column or '*'}) over {label}"
                rows.append(FeatureRow(f"{agg.name}_{label}", what,
                                       agg.description, {}))
    return tuple(rows)


def _freshness(view: FeatureView, offline: tuple[datetime, int | None] | None, sync: Any,
               now: datetime) -> Freshness:
    materialized, offline_version = offline if offline is not None else (None, None)
    synced = _aware(sync.updated_at) if sync is not None else None
    lag: timedelta | None = None
    if synced is not None and materialized is not None:
        caught_up = offline_version is not None and sync.delta_version >= offline_version
        lag = timedelta(0) if caught_up else max(now - materialized, timedelta(0))
    return Freshness(
        online=view.online, last_materialized=materialized, offline_version=offline_version,
        offline_age=now - materialized if materialized is not None else None,
        last_synced=synced, synced_version=sync.delta_version if sync is not None else None,
        synced_definition=sync.definition_version if sync is not None else None,
        online_age=now - synced if synced is not None else None, lag=lag)


_EXAMPLE_KEYS = {"string": "abc", "int32": 1, "int64": 1}


def lookup_request(view: str, keys: tuple[tuple[str, str], ...]) -> str:
    """A ready-to-copy lookup of every feature of ``view`` for one entity (the body of
    ``POST /v1/features:lookup``)."""
    body = {"features": [f"{view}:*"],
            "entities": {name: [_EXAMPLE_KEYS.get(dtype, 1)] for name, dtype in keys}}
    return json.dumps(body)
