"""What to push: the latest row per entity, from a snapshot or from a change feed.

Pure ``DataFrame -> DataFrame`` functions; the sync chooses the input and writes the output.
"Latest" is the offline rule: greatest ``event_timestamp``, ties broken by the latest
``_ingested_at``, among rows within ttl (``event_timestamp > now - ttl``): the greatest
``(event_timestamp, _ingested_at, features...)`` tuple, nulls lowest.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sparkfs.online.task import OP_COLUMN
from sparkfs.online.view import OnlineView

__all__ = ["OP_DEFERRED", "changed_latest", "latest_per_entity", "rows_for_deleted"]

#: ``_op`` of an entity whose change feed holds a delete: handled by :func:`rows_for_deleted`.
OP_DEFERRED = 3
_UPSERTS = ("insert", "update_postimage")


def _value_struct(view: OnlineView) -> Column:
    names = ["event_timestamp", "_ingested_at", *view.feature_names]
    return F.struct(*[F.col(n) for n in names])


def _valid(df: DataFrame, view: OnlineView, min_event_time: datetime | None) -> Column:
    cond = F.col("event_timestamp").isNotNull()
    for key in view.key_names:
        cond = cond & F.col(key).isNotNull()
    if min_event_time is not None:
        cond = cond & (F.col("event_timestamp") > F.lit(min_event_time))
    return cond


def _flatten(df: DataFrame, view: OnlineView, op: Column) -> DataFrame:
    cols = [F.col(k) for k in view.key_names]
    cols += [F.col(f"_v.{n}").alias(n)
             for n in ["event_timestamp", "_ingested_at", *view.feature_names]]
    return df.select(*cols, op.cast("byte").alias(OP_COLUMN))


def latest_per_entity(df: DataFrame, view: OnlineView,
                      min_event_time: datetime | None) -> DataFrame:
    """One row per entity with a row within ttl: its latest row (``_op`` = 0).

    The same choice as ``max(struct(event_timestamp, _ingested_at, features...))`` (nulls
    lowest), as ``row_number() = 1`` over that order descending: a ``max`` of a struct cannot
    use Spark's hash aggregation and sorts twice (partial and final), while the window sorts
    once and Spark's window group limit keeps only each key's first row before the shuffle.
    """
    order = [F.col(n).desc_nulls_last() for n in ["event_timestamp", "_ingested_at", *view.feature_names]]
    rank = F.row_number().over(Window.partitionBy(*view.key_names).orderBy(*order))
    latest = (df.filter(_valid(df, view, min_event_time)).withColumn("_rank", rank)
              .where(F.col("_rank") == 1))
    cols = [F.col(n) for n in [*view.key_names, "event_timestamp", "_ingested_at", *view.feature_names]]
    return latest.select(*cols, F.lit(0).cast("byte").alias(OP_COLUMN))


def changed_latest(cdf: DataFrame, view: OnlineView,
                   min_event_time: datetime | None) -> DataFrame:
    """Per entity touched by the change feed: its latest inserted/updated row within ttl.

    Entities with a ``delete`` in the feed get ``_op`` = :data:`OP_DEFERRED` (the writer skips
    and counts them; the sync then recomputes them from the snapshot). Entities whose changes
    all fall outside ttl produce no row.
    """
    upsert = F.col("_change_type").isin(*_UPSERTS) & _valid(cdf, view, min_event_time)
    keys_ok = F.lit(True)
    for key in view.key_names:
        keys_ok = keys_ok & F.col(key).isNotNull()
    grouped = (cdf.filter(keys_ok).groupBy(*view.key_names).agg(
        F.max(F.when(upsert, _value_struct(view))).alias("_v"),
        F.max((F.col("_change_type") == "delete").cast("int")).alias("_del"),
    ))
    kept = grouped.filter(F.col("_v").isNotNull() | (F.col("_del") == 1))
    return _flatten(kept, view, F.when(F.col("_del") == 1, F.lit(OP_DEFERRED)).otherwise(0))


def rows_for_deleted(cdf: DataFrame, snapshot: DataFrame, view: OnlineView,
                     min_event_time: datetime | None) -> DataFrame:
    """For entities with a delete in the feed, the truth from the snapshot: their latest row
    written without the event-time rule (``_op`` = 1, the newer row is gone) or, when no row
    within ttl is left, a delete (``_op`` = 2)."""
    deleted = (cdf.filter(F.col("_change_type") == "delete").select(*view.key_names)
               .dropna().distinct())
    truth = latest_per_entity(snapshot.join(deleted, list(view.key_names), "left_semi"), view,
                              min_event_time)
    joined = deleted.join(truth, list(view.key_names), "left")
    return joined.withColumn(
        OP_COLUMN, F.when(F.col("event_timestamp").isNull(), F.lit(2)).otherwise(1).cast("byte"))
