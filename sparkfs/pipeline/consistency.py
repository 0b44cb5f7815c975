"""``sparkfs consistency``: does the online store answer what the offline store answers, now?

The online contract (docs/online-store.md): a lookup at time ``t`` returns, per entity and
view, what a point-in-time join of a spine row ``(entity, t)`` returns over the synced table
version. This check samples entities of each synced view, looks them up online at one instant
``t`` and joins them offline at the same ``t`` (the table at the version the last sync read),
and reports every entity whose status, event time or any value differs. It is what an
operator runs after a deploy, a sync or a Redis restore.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.clock import utc_now
from sparkfs.delta_log import latest_version
from sparkfs.errors import ValidationError
from sparkfs.online.layout import datetime_to_us, us_to_datetime
from sparkfs.online.reader import OnlineReader, Status, ViewValue
from sparkfs.online.view import OnlineView
from sparkfs.pipeline.sync import online_target, online_view
from sparkfs.registry.checkpoints import SqlCheckpointStore
from sparkfs.training.pit_join import FeatureSource, point_in_time_join

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["Mismatch", "ViewConsistency", "check_consistency"]

_EXAMPLES = 5
_READ_CHUNK = 500
_TS, _STAMP = "__sfs_at", "__sfs_event_us"


@dataclass(frozen=True)
class Mismatch:
    """One entity whose online answer differs from the offline one at the same instant."""

    entity: dict[str, Any]
    online_status: str
    online_event_time: datetime | None
    offline_event_time: datetime | None
    #: feature -> (online value, offline value), for the features that differ
    values: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        keys = ", ".join(f"{k}={v!r}" for k, v in self.entity.items())
        parts = [f"online {self.online_status} at {self.online_event_time}, offline "
                 f"{'no row' if self.offline_event_time is None else self.offline_event_time}"]
        parts += [f"{name}: online {a!r}, offline {b!r}" for name, (a, b) in self.values.items()]
        return f"{keys}: " + "; ".join(parts)


@dataclass(frozen=True)
class ViewConsistency:
    """The result for one view: how many sampled entities differ, and a few of them."""

    view: str
    version: str
    at: datetime
    synced_delta_version: int
    table_delta_version: int
    checked: int
    mismatched: int
    examples: list[Mismatch]

    @property
    def rate(self) -> float:
        return self.mismatched / self.checked if self.checked else 0.0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _compare(entity: dict[str, Any], view: OnlineView, online: ViewValue,
             offline_us: int | None, offline: Sequence[Any]) -> Mismatch | None:
    """``None`` when the answers agree: no row offline <-> not PRESENT online; else equal event
    time and values."""
    online_us = None if online.event_time is None else datetime_to_us(online.event_time)
    offline_time = None if offline_us is None else us_to_datetime(offline_us)
    if offline_us is None:
        if online.status is not Status.PRESENT:
            return None
        return Mismatch(entity, online.status.value, online.event_time, None,
                        {n: (v, None) for n, v in (online.values or {}).items()})
    if online.status is not Status.PRESENT:
        return Mismatch(entity, online.status.value, online.event_time, offline_time,
                        {n: (None, v) for n, v in zip(view.feature_names, offline, strict=True)})
    got = online.values or {}
    diff = {n: (got.get(n), v) for n, v in zip(view.feature_names, offline, strict=True)
            if not _same(_plain(got.get(n)), _plain(v))}
    if online_us == offline_us and not diff:
        return None
    return Mismatch(entity, online.status.value, online.event_time, offline_time, diff)


def _plain(value: Any) -> Any:
    """Python values as both sides produce them (an int32 read online is an ``int``)."""
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _sample(spark: SparkSession, table: Any, view: OnlineView, n: int,
            seed: int) -> list[dict[str, Any]]:
    keys = list(view.key_names)
    not_null = F.lit(True)
    for key in keys:
        not_null = not_null & F.col(key).isNotNull()
    picked = (table.select(*keys).where(not_null).distinct()
              .orderBy(F.rand(seed)).limit(n).collect())  # at most n rows reach the driver
    return [row.asDict() for row in picked]


def _check_view(spark: SparkSession, workspace: Workspace, name: str, *, sample: int,
                at: datetime, seed: int) -> ViewConsistency:
    view, path = online_view(spark, workspace, name)
    checkpoint = SqlCheckpointStore(workspace.engine, workspace.namespace).get(name)
    if checkpoint is None or checkpoint.definition_version != view.version:
        raise ValidationError(f"feature view {name!r} (version {view.version[:8]}) has not been "
                              f"synced to the online store; run `sparkfs sync {name}` first")
    table = spark.read.format("delta").option("versionAsOf", checkpoint.delta_version).load(path)
    table_version = latest_version(spark, path)
    entities = _sample(spark, table, view, sample, seed)
    if not entities:
        return ViewConsistency(name, view.version, at, checkpoint.delta_version, table_version,
                               0, 0, [])
    reader = OnlineReader(online_target(workspace),
                          timeout_s=workspace.config.serving.redis_timeout_s)
    try:
        online: list[ViewValue] = []
        for start in range(0, len(entities), _READ_CHUNK):
            chunk = entities[start : start + _READ_CHUNK]
            online += [r[name] for r in reader.read([view], chunk, now=at)]
    finally:
        reader.close()
    key_schema = {f.name: f.dataType for f in table.schema.fields if f.name in view.key_names}
    spine_schema = ", ".join([f"`{k}` {key_schema[k].simpleString()}" for k in view.key_names]
                             + [f"{_TS} timestamp", "__sfs_i int"])
    spine = spark.createDataFrame(
        [(*[e[k] for k in view.key_names], at, i) for i, e in enumerate(entities)], spine_schema)
    source = FeatureSource(name, table, view.key_names, view.feature_names,
                           view.feature_names, ttl=view.ttl,
                           availability_delay=view.availability_delay,
                           timestamp_output="__sfs_ts", created=view.created,
                           availability=view.availability)
    joined = point_in_time_join(spine, [source], timestamp_column=_TS)
    rows = joined.select("__sfs_i", F.unix_micros("__sfs_ts").alias(_STAMP),
                         *[F.col(f"`{f}`") for f in view.feature_names]).collect()
    mismatches = []
    for row in rows:
        i = row["__sfs_i"]
        found = _compare(entities[i], view, online[i], row[_STAMP],
                         [row[f] for f in view.feature_names])
        if found is not None:
            mismatches.append(found)
    return ViewConsistency(name, view.version, at, checkpoint.delta_version, table_version,
                           len(entities), len(mismatches), mismatches[:_EXAMPLES])


def check_consistency(spark: SparkSession, workspace: Workspace,
                      names: Sequence[str] | None = None, *, sample: int = 1000,
                      at: datetime | None = None, seed: int = 0) -> list[ViewConsistency]:
    """Compare online lookups with the point-in-time join at one instant, per view.

    Args:
        names: feature views to check (default: every online view).
        sample: entities per view, drawn at random from the synced table version.
        at: the instant of both lookups (default: now).

    Raises:
        ValidationError: a view is unknown, offline-only or not synced yet.
    """
    if sample <= 0:
        raise ValidationError(f"--sample must be a positive number of entities, got {sample}")
    repo = workspace.repository
    targets = list(names or []) or sorted(n for n, v in repo.feature_views.items() if v.online)
    for name in targets:
        if not repo.feature_view(name).online:
            raise ValidationError(f"feature view {name!r} has online: false; it has no online "
                                  "values to compare")
    moment = at or utc_now()
    return [_check_view(spark, workspace, name, sample=sample, at=moment, seed=seed)
            for name in targets]
