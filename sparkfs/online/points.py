"""What to push: per entity, its change points from a snapshot or from a change feed.

Pure ``DataFrame -> DataFrame`` functions; the sync chooses the input and writes the output.

The online store must answer at any lookup time ``t`` after a sync what a point-in-time join
answers for ``(entity, t)``: the row with the greatest event time ``E`` such that
``E + availability_delay <= t`` (ties: latest ``_created_at`` for a view with one, then latest
``_ingested_at``; with knowing time also ``_created_at <= t``). The greatest stored event time
is *not* that row: an aggregation view's table holds rows in the future of the sync, where
events leave their windows (a ``txn_count_1h`` drops to 0 an hour after the last event). So an
entity's value holds its **change points**: the row current at the sync ``now`` (the greatest
``(E, [_created_at,] _ingested_at, features...)`` tuple available at ``now``, nulls lowest)
and every row that becomes available later and ranks above it, ascending. Points already
outside the ttl at ``now`` can never be served and are dropped. The reader then picks the newest point available at ``t``, without
another sync. How many points there are is bounded by the table: for an aggregation view, by
the longest window over the grain; a plain view normally has none in the future.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sparkfs.online.layout import datetime_to_us
from sparkfs.online.task import OP_COLUMN
from sparkfs.online.view import OnlineView

__all__ = ["OP_DEFERRED", "changed_points", "points_for_deleted", "points_per_entity"]

#: ``_op`` of an entity whose change feed holds a delete: handled by :func:`points_for_deleted`.
OP_DEFERRED = 3
_UPSERTS = ("insert", "update_postimage")
_E, _CR, _ING = "event_timestamp", "_created_at", "_ingested_at"
#: The per-entity array of a change feed's points, before it is flattened.
POINTS_COLUMN = "_points"


def _names(view: OnlineView) -> list[str]:
    """A point's fields, in the order that ranks rows: event time, [created,] ingestion."""
    return [_E, *([_CR] if view.created else []), _ING, *view.feature_names]


def _keys_ok(view: OnlineView) -> Column:
    cond = F.lit(True)
    for key in view.key_names:
        cond = cond & F.col(key).isNotNull()
    if view.availability == "created":
        cond = cond & F.col(_CR).isNotNull()  # a row never recorded is never known
    return cond


def _available(row: Column | None, view: OnlineView, now: datetime) -> Column:
    """Whether a row (a point struct, or the current row when ``None``) is visible at ``now``:
    ``E + delay <= now``, and for knowing time ``created <= now``."""
    def field(name: str) -> Column:
        return F.col(name) if row is None else row[name]

    now_us = F.lit(datetime_to_us(now))
    cond = F.unix_micros(field(_E)) + F.lit(view.delay_us) <= now_us
    if view.availability == "created":
        cond = cond & (F.unix_micros(field(_CR)) <= now_us)
    return cond


def _cut(points: Column, view: OnlineView, now: datetime) -> Column:
    """From an entity's points (ascending), the current one at ``now`` and every later one,
    without those outside the ttl at ``now``. With knowing time a point recorded after
    ``now`` may rank below the current one: it can never be served and is dropped too."""
    now_us = datetime_to_us(now)

    def available(p: Column) -> Column:
        return _available(p, view, now)

    past = F.filter(points, available)
    current = F.when(F.size(past) > 0, F.element_at(past, -1))
    if view.availability == "created":
        later = F.filter(points, lambda p: ~available(p) & (current.isNull() | (p > current)))
    else:
        later = F.filter(points, lambda p: ~available(p))
    kept = F.when(current.isNull(), later).otherwise(F.concat(F.array(current), later))
    if view.ttl is None:
        return kept
    horizon = now_us - view.ttl_ms * 1000
    return F.filter(kept, lambda p: F.unix_micros(p[_E]) > F.lit(horizon))


def points_per_entity(df: DataFrame, view: OnlineView, now: datetime) -> DataFrame:
    """Each entity's candidate rows, contiguous per entity: the writer keeps of them the row
    current at ``now`` and the later ones (see the module doc and ``task._group``).

    A ``dense_rank`` over (the row's sort tuple if available at ``now``, else one value shared
    by all later rows), descending, keeps per key every later row and at most two available
    ones, ordered by their tuple, greatest first. Spark applies such a rank filter before the
    shuffle (its window group limit), so a long history of a plain view does not travel; and
    the window leaves each key's rows together in one partition, in that order, which the
    ``sortWithinPartitions`` on the keys states (Spark drops it: the order is already there).
    No grouping, no per-entity arrays: a plain view's entity is one row, as it was before
    change points.
    """
    names = _names(view)
    now_us = datetime_to_us(now)
    available = _available(None, view, now)
    order = [F.when(available, F.col(n)).desc_nulls_last() for n in names]
    order.insert(0, available.cast("int").asc())
    rank = F.dense_rank().over(Window.partitionBy(*view.key_names).orderBy(*order))
    usable = _keys_ok(view) & F.col(_E).isNotNull()
    if view.ttl is not None:  # never servable from now on (older rows are older still)
        usable = usable & (F.unix_micros(F.col(_E)) > F.lit(now_us - view.ttl_ms * 1000))
    rows = df.filter(usable).withColumn("_rank", rank).where(F.col("_rank") <= 2).drop("_rank")
    return (rows.sortWithinPartitions(*view.key_names)
            .select(*view.key_names, *names, F.lit(0).cast("byte").alias(OP_COLUMN)))


def _flat(grouped: DataFrame, view: OnlineView, op: Column) -> DataFrame:
    """One row per point of ``_points`` (an entity without points keeps one row with a null
    event time), contiguous per entity: ``explode_outer`` emits an input row's elements
    together."""
    exploded = grouped.select(*view.key_names, op.alias(OP_COLUMN),
                              F.explode_outer(POINTS_COLUMN).alias("_p"))
    return exploded.select(*view.key_names, *[F.col(f"_p.{n}").alias(n) for n in _names(view)],
                           OP_COLUMN)


def changed_points(cdf: DataFrame, view: OnlineView, now: datetime) -> DataFrame:
    """Per entity touched by the change feed: the points of its inserted/updated rows.

    The write script merges them with the stored points (a merge never lets an older row
    replace a newer one). Entities with a ``delete`` in the feed get ``_op`` =
    :data:`OP_DEFERRED` (the writer skips and counts them; the sync then recomputes them from
    the snapshot). Entities whose changes cannot be served produce no row.
    """
    upsert = F.col("_change_type").isin(*_UPSERTS) & F.col(_E).isNotNull()
    value = F.struct(*[F.col(n) for n in _names(view)])
    grouped = cdf.filter(_keys_ok(view)).groupBy(*view.key_names).agg(
        F.sort_array(F.collect_list(F.when(upsert, value))).alias("_all"),
        F.max((F.col("_change_type") == "delete").cast("int")).alias("_del"))
    cut = grouped.select(*view.key_names, _cut(F.col("_all"), view, now).alias(POINTS_COLUMN),
                         F.col("_del"))
    kept = cut.where((F.size(POINTS_COLUMN) > 0) | (F.col("_del") == 1))
    op = F.when(F.col("_del") == 1, F.lit(OP_DEFERRED)).otherwise(0).cast("byte")
    return _flat(kept, view, op)


def points_for_deleted(cdf: DataFrame, snapshot: DataFrame, view: OnlineView,
                       now: datetime) -> DataFrame:
    """For entities with a delete in the feed, the truth from the snapshot: their points
    written without merging (``_op`` = 1, a stored row is gone) or, when nothing servable is
    left, a delete (``_op`` = 2: one row with a null event time)."""
    deleted = (cdf.filter(F.col("_change_type") == "delete").select(*view.key_names)
               .dropna().distinct())
    truth = points_per_entity(snapshot.join(deleted, list(view.key_names), "left_semi"), view,
                              now).drop(OP_COLUMN)
    joined = deleted.join(truth, list(view.key_names), "left")
    op = F.when(F.col(_E).isNull(), F.lit(2)).otherwise(1).cast("byte")
    return (joined.withColumn(OP_COLUMN, op).repartition(*view.key_names)
            .sortWithinPartitions(*view.key_names))
