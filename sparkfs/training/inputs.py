"""A training set's inputs: feature tables pinned to one Delta version, and the spine.

:func:`pinned_version` resolves ``as_of`` (the current version, the one at a timestamp, or one
given per view) to a Delta version; :func:`readable_version` reads it (refusing a vacuumed
version with what to do); :func:`read_spine` reads a spine file. The pipeline layer
(:mod:`sparkfs.pipeline.training_sets`) joins them with
:func:`sparkfs.training.pit_join.point_in_time_join` and records what it read.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.delta_log import latest_version
from sparkfs.errors import NotFoundError, ValidationError
from sparkfs.offline.table import OfflineTable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["AsOf", "pinned_version", "read_spine", "readable_version", "spine_with_timestamp"]

AsOf = datetime | dict[str, int] | None


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


def readable_version(spark: SparkSession, table: OfflineTable, view: str, version: int) -> DataFrame:
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
