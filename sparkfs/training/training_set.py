"""Training sets: point-in-time joins over pinned Delta versions, recorded for reproduction.

``build_training_set`` resolves the requested features to feature views, pins every feature
table to one Delta version (the current one, the one at an ``as_of`` timestamp, or the one
given per view) and joins with :func:`sparkfs.training.pit_join.point_in_time_join`. The
result carries what it read, so ``reproduce`` can rebuild it row for row later, even after
the tables were backfilled or the definitions changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, definition_version
from sparkfs.definitions.loader import FeatureRef
from sparkfs.delta_log import latest_version
from sparkfs.errors import NotFoundError, ValidationError
from sparkfs.offline.materialize import offline_table
from sparkfs.offline.table import OfflineTable
from sparkfs.training.feature_source import FeatureSource
from sparkfs.training.pit_join import point_in_time_join, validate_spine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.workspace import Workspace

__all__ = ["AsOf", "TrainingSet", "build_training_set", "pinned_version"]

AsOf = datetime | dict[str, int] | None


@dataclass(frozen=True)
class TrainingSet:
    df: DataFrame
    features: list[str]                  # view:feature, in output order
    table_versions: dict[str, int]       # feature view -> Delta version read
    definition_versions: dict[str, str]  # feature view -> definition version used


def _history(spark: SparkSession, table: OfflineTable) -> list[tuple[int, datetime]]:
    from delta.tables import DeltaTable

    rows = DeltaTable.forPath(spark, table.path).history().select("version", "timestamp").collect()
    return sorted((int(r["version"]), r["timestamp"].replace(tzinfo=UTC)) for r in rows)


def pinned_version(spark: SparkSession, table: OfflineTable, view: str, as_of: AsOf) -> int:
    """The Delta version to read for ``view``; fails (before any job) if it cannot be read."""
    if not table.exists(spark):
        raise NotFoundError(
            f"feature view {view!r} has no offline table at {table.path}; run `sparkfs materialize {view}` first"
        )
    history = _history(spark, table)
    if as_of is None or (isinstance(as_of, dict) and view not in as_of):
        return history[-1][0]
    if isinstance(as_of, dict):
        wanted = as_of[view]
        if wanted not in {v for v, _ in history}:
            raise ValidationError(
                f"as_of: feature view {view!r} has no Delta version {wanted} "
                f"(available: {history[0][0]}..{history[-1][0]})"
            )
        return wanted
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    eligible = [v for v, at in history if at <= moment]
    if not eligible:
        raise ValidationError(f"as_of {moment.isoformat()}: feature view {view!r} did not exist yet")
    return eligible[-1]


def _check_readable(spark: SparkSession, table: OfflineTable, view: str, version: int) -> DataFrame:
    try:
        df = table.read(spark, version)
        files = df.inputFiles()
    except Exception as exc:
        raise ValidationError(
            f"as_of: version {version} of feature view {view!r} cannot be read ({str(exc).splitlines()[0]}); "
            "its history was probably vacuumed — choose a newer version"
        ) from exc
    missing = [f for f in files if f.startswith("file:") and not os.path.exists(f[len("file:"):])]
    if missing:
        raise ValidationError(
            f"as_of: version {version} of feature view {view!r} was vacuumed ({len(missing)} data files "
            f"are gone, e.g. {missing[0]}); choose a version newer than the last VACUUM"
        )
    return df


def _group(refs: list[FeatureRef]) -> dict[str, list[FeatureRef]]:
    grouped: dict[str, list[FeatureRef]] = {}
    for ref in refs:
        grouped.setdefault(ref.view, []).append(ref)
    return grouped


def build_training_set(
    spark: SparkSession,
    workspace: Workspace,
    spine: DataFrame,
    *,
    refs: list[FeatureRef],
    as_of: AsOf = None,
    views: dict[str, FeatureView] | None = None,
    timestamp_column: str = "event_timestamp",
    include_timestamps: bool = False,
) -> TrainingSet:
    """Join ``refs`` onto ``spine`` point-in-time correctly; see the module docstring.

    ``views`` overrides the repository's definitions (reproduction uses the recorded ones).
    """
    if not refs:
        raise ValidationError("request at least one feature (features=[...] or feature_service=...)")
    sources, table_versions, definition_versions = [], {}, {}
    for view_name, view_refs in _group(refs).items():
        view = (views or {}).get(view_name) or workspace.repository.feature_view(view_name)
        table = offline_table(workspace, view)
        version = pinned_version(spark, table, view_name, as_of)
        df = _check_readable(spark, table, view_name, version)
        keys = tuple(k.name for k in workspace.repository.join_keys(view)) if views is None else \
            tuple(_keys_from_table(df, view))
        sources.append(FeatureSource(
            name=view_name, df=df, keys=keys,
            features=tuple(r.feature for r in view_refs),
            output_names=tuple(r.column for r in view_refs),
            ttl=view.ttl, availability_delay=view.availability_delay,
            timestamp_output=f"{view_name}__event_timestamp" if include_timestamps else None,
            created=view.created_timestamp_column is not None, availability=view.availability,
        ))
        table_versions[view_name] = version
        definition_versions[view_name] = definition_version(view)
    validate_spine(spine, sources, timestamp_column)
    joined = point_in_time_join(spine, sources, timestamp_column=timestamp_column)
    return TrainingSet(joined, [r.qualified for r in refs], table_versions, definition_versions)


def _keys_from_table(df: DataFrame, view: FeatureView) -> list[str]:
    """Join keys of a recorded view: the stored columns before ``event_timestamp``."""
    names = df.columns
    return names[: names.index("event_timestamp")]


def read_spine(spark: SparkSession, path: str) -> tuple[DataFrame, dict[str, Any]]:
    """Read a spine (Delta, Parquet or CSV by extension) and note its Delta version if any."""
    from delta.tables import DeltaTable

    if DeltaTable.isDeltaTable(spark, path):
        version = latest_version(spark, path)
        return spark.read.format("delta").option("versionAsOf", version).load(path), {"format": "delta", "version": version}
    if path.endswith(".csv"):
        df = spark.read.option("header", "true").option("inferSchema", "true").csv(path)
        return df, {"format": "csv"}
    if not os.path.exists(path) and "://" not in path:
        raise NotFoundError(f"spine {path} does not exist; give a Delta, Parquet or CSV path")
    from sparkfs.offline.parquet import read_parquet

    return read_parquet(spark, path), {"format": "parquet"}  # pandas' nanoseconds: timestamps


def spine_with_timestamp(df: DataFrame, column: str) -> DataFrame:
    """CSV spines carry times as strings: parse them as UTC timestamps (others untouched)."""
    if column in df.columns and dict(df.dtypes)[column] == "string":
        return df.withColumn(column, F.to_timestamp(F.col(column)))
    return df
