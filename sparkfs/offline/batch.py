"""A feature view's batch: the rows a run writes, computed from its source, and what it read.

:func:`feature_batch` is pure: it only builds the query (no Spark job). The rows read in scope
and their newest event time are measured by the first job that computes the rows (an
``observe`` on the input, e.g. the quality gate's cache build or the write itself), so a run
needs no counting pass of its own over the source; :func:`input_stats` reads them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark.sql import Observation
from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, JoinKey
from sparkfs.offline.conform import EVENT_TIMESTAMP, conform_events, conform_features
from sparkfs.offline.source import apply_transformation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["Batch", "InputStats", "feature_batch", "input_stats"]

_ROWS_IN, _NEWEST = "rows_in", "newest"


@dataclass(frozen=True)
class InputStats:
    """Source rows in the run's scope, and the newest event time among them (``None``: none)."""

    rows: int
    newest: datetime | None


@dataclass(frozen=True)
class Batch:
    """The rows to write and the measurement of the input riding on them."""

    rows: DataFrame
    scoped: DataFrame  # the input rows in scope (unobserved), for a fallback count
    time_column: str  # event time column of ``scoped``
    observation: Observation


def feature_batch(
    spark: SparkSession, view: FeatureView, keys: list[JoinKey], source: DataFrame,
    start: datetime | None, end: datetime | None, *, name: str,
) -> Batch:
    """The rows of ``view`` for event times in [start, end) (``None``: unbounded), from
    ``source``; ``name`` names the observation (unique per run, e.g. the run id)."""
    transformed = apply_transformation(spark, view, source)
    observation = Observation(f"sparkfs_input_{name}")
    if view.aggregations is None:
        ts = F.col(view.timestamp_column)
        scoped = transformed
        if start is not None:
            scoped = scoped.where(ts >= F.lit(start))
        if end is not None:
            scoped = scoped.where(ts < F.lit(end))
        rows = conform_features(_observed(scoped, observation, view.timestamp_column), view, keys)
        return Batch(rows, scoped, view.timestamp_column, observation)
    from sparkfs.offline.aggregation import required_event_start
    from sparkfs.offline.aggregation_bridge import aggregate_view, spec_of, value_columns

    events = conform_events(transformed, view, keys, value_columns(view))
    if start is not None:
        events = events.where(F.col(EVENT_TIMESTAMP) >= F.lit(required_event_start(spec_of(view), start)))
    if end is not None:
        events = events.where(F.col(EVENT_TIMESTAMP) < F.lit(end))
    observed = _observed(events, observation, EVENT_TIMESTAMP)
    rows = aggregate_view(observed, view, [k.name for k in keys], start=start, end=end)
    return Batch(rows, events, EVENT_TIMESTAMP, observation)


def _observed(df: DataFrame, observation: Observation, time_column: str) -> DataFrame:
    # epoch microseconds: independent of the Python process's time zone
    return df.observe(observation, F.count(F.lit(1)).alias(_ROWS_IN),
                      F.unix_micros(F.max(F.col(time_column).cast("timestamp"))).alias(_NEWEST))


def input_stats(batch: Batch) -> InputStats:
    """What the batch read, as measured while it was computed; when no job measured it (a
    plan Spark answered without running the observed part), one counting job over the input."""
    jo = batch.observation._jo
    if jo is not None and jo.future().isCompleted():
        row = batch.observation.get
        rows, newest = int(row[_ROWS_IN]), row[_NEWEST]
    else:
        first = _observed_columns(batch.scoped, batch.time_column).first()
        assert first is not None
        rows, newest = int(first[_ROWS_IN]), first[_NEWEST]
    return InputStats(rows, None if newest is None else datetime.fromtimestamp(newest / 1e6, UTC))


def _observed_columns(df: DataFrame, time_column: str) -> DataFrame:
    return df.agg(F.count(F.lit(1)).alias(_ROWS_IN),
                  F.unix_micros(F.max(F.col(time_column).cast("timestamp"))).alias(_NEWEST))
