"""Windowed aggregations as a pure ``DataFrame -> DataFrame`` transformation.

The output is an offline-store table: rows of ``keys..., event_timestamp, features...`` that a
point-in-time read turns into the exact windowed aggregate at any time ``t``. Precisely, for an
entity and a time ``t``, the row with the greatest ``event_timestamp <= t`` holds, for every
feature and window ``w``, the aggregate of that entity's events with event time in
``(floor_grain(t) - w, floor_grain(t)]``. See ``docs/aggregations.md``.

How it stays cheap (no scan of each window per row):

1. Roll events up per key and grain bucket into partials (count, sum, min, max, latest
   ``(time, value)``, an HLL sketch). A bucket ``i`` holds events in ``((i-1)g, ig]``, so an
   event counts from boundary ``ceil_grain(e)`` onward.
2. Values only change at a bucket's own boundary ``i`` (events enter) and at ``i + w`` for
   each window (they leave). Each bucket row is exploded into those candidate boundaries.
3. One sort per key. count, sum, avg and last are running totals (a bucket adds its partial
   where it enters and subtracts it where it leaves), which Spark updates in O(1) per row;
   min, max and the HLL union use range frames over the buckets in ``(b - w, b]``. A ``lag``
   over the same order then drops rows equal to the key's previous row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StructType, TimestampNTZType, TimestampType

from sparkfs.errors import ValidationError
from sparkfs.offline.aggregation_partials import (
    PREFIX,
    Frames,
    PartialPlan,
    feature_type,
    plan_partials,
)
from sparkfs.offline.aggregation_spec import (
    AggFeature,
    AggFunction,
    AggregationSpec,
    feature_column_name,
    parse_window,
    window_label,
)
from sparkfs.offline.aggregation_sweep import sweep_windows, sweepable

__all__ = [
    "EVENT_TIMESTAMP",
    "AggFeature",
    "AggFunction",
    "AggregationSpec",
    "Engine",
    "aggregate_windows",
    "output_columns",
    "parse_window",
    "required_event_start",
    "window_label",
]

#: Name of the output timestamp column (a grain boundary, UTC).
EVENT_TIMESTAMP = "event_timestamp"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IDX = PREFIX + "idx"
_OFFSET = PREFIX + "offset"
_TS = PREFIX + "ts"
Engine = Literal["auto", "sweep", "window"]


def output_columns(
    spec: AggregationSpec, source_schema: StructType | None = None
) -> list[tuple[str, DataType]]:
    """Names and Spark types of the feature columns, in output order (feature-major).

    ``count`` and ``approx_count_distinct`` are ``bigint`` and ``avg`` is ``double`` whatever the
    source; ``sum`` is ``bigint`` for integral columns, ``double`` for floating ones and
    ``decimal(p+10, s)`` for decimals; ``min``, ``max`` and ``last`` keep the column's type,
    which is why they need ``source_schema``.

    Raises:
        ValidationError: a type cannot be resolved (no schema, unknown column, wrong type).
    """
    if source_schema is not None:
        types = plan_partials(spec, source_schema).out_types
    else:
        types = tuple(feature_type(f, None) for f in spec.features)
    return [
        (feature_column_name(feature, window), dtype)
        for feature, dtype in zip(spec.features, types, strict=True)
        for window in spec.windows
    ]


def required_event_start(spec: AggregationSpec, start: datetime) -> datetime:
    """The earliest event time a run clipped at ``start`` must read (inclusive bound).

    Values at boundaries ``>= start`` need events newer than ``ceil_grain(start) - max_window``;
    one more grain of history is needed to know where events *leave* the longest window at
    ``start`` itself. Reading more history is harmless (it is filtered out early).
    """
    grain_us = _micros(spec.grain_size)
    first = _ceil_div(_micros(_utc(start) - _EPOCH), grain_us)
    reach = _micros(spec.max_window) // grain_us + 1
    return _EPOCH + timedelta(microseconds=(first - reach) * grain_us)


def aggregate_windows(
    events: DataFrame,
    *,
    keys: Sequence[str],
    timestamp_column: str,
    spec: AggregationSpec,
    start: datetime | None = None,
    end: datetime | None = None,
    engine: Engine = "auto",
) -> DataFrame:
    """Turn raw events into change-point rows of windowed aggregates.

    Args:
        events: one row per event; rows with a null key or timestamp are dropped.
        keys: entity join key columns (composite keys allowed).
        timestamp_column: event time (``timestamp``; UTC).
        spec: grain, windows and features.
        start: keep output rows with ``event_timestamp >= start``; the first row of each key
            in range is always kept, so the range can be overwritten on its own. Pass events
            from :func:`required_event_start` onward (more is fine).
        end: keep output rows with ``event_timestamp < end``.
        engine: ``"sweep"`` (count, sum and avg only: one ordered numpy pass per key, see
            :mod:`sparkfs.offline.aggregation_sweep`), ``"window"`` (every function: Spark
            window frames), or ``"auto"`` (the sweep where it applies). Same rows either way.

    Returns:
        ``keys..., event_timestamp, {feature}_{window}...``; only rows where some value
        differs from the key's previous row (or the first row in ``[start, end)``).

    Raises:
        ValidationError: a column is missing or has the wrong type, a name clashes, or
            ``start >= end``.
    """
    keys = list(keys)
    plan = plan_partials(spec, events.schema)
    features = output_columns(spec, events.schema)
    _check_columns(events.schema, keys, timestamp_column, [n for n, _ in features])
    grain_us = _micros(spec.grain_size)
    first, stop = _index_range(start, end, grain_us)
    reach = max(_micros(w) // grain_us for w in spec.windows)
    buckets = _bucket_rollup(events, keys, timestamp_column, plan, grain_us, first, stop, reach)
    names = [n for n, _ in features]
    sweeps = sweepable(spec, plan)
    if engine == "sweep" and not sweeps:
        raise ValidationError("the sweep engine computes count, sum and avg over integral "
                              "or floating columns only; use engine='window'")
    if engine != "window" and sweeps:
        changes = sweep_windows(buckets, keys, spec, plan, idx=_IDX, first=first, stop=stop)
        return changes.select(*keys, _stamp(grain_us), *names)
    candidates = _candidates(buckets, keys, spec, grain_us, stop)
    values = _window_values(candidates, keys, spec, plan, grain_us)
    return _changed_rows(values, keys, names, first, grain_us)


def _micros(td: timedelta) -> int:
    return td // timedelta(microseconds=1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC, like every timestamp in sparkfs."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _index_range(
    start: datetime | None, end: datetime | None, grain_us: int
) -> tuple[int | None, int | None]:
    """First and one-past-last boundary index of ``[start, end)`` (``None``: unbounded)."""
    if start is not None and end is not None and _utc(start) >= _utc(end):
        raise ValidationError(f"start {start} must be before end {end}; the range is [start, end)")
    first = None if start is None else _ceil_div(_micros(_utc(start) - _EPOCH), grain_us)
    stop = None if end is None else _ceil_div(_micros(_utc(end) - _EPOCH), grain_us)
    return first, stop


def _check_columns(
    schema: StructType, keys: list[str], timestamp_column: str, feature_names: list[str]
) -> None:
    available = {f.name: f.dataType for f in schema.fields}
    if not keys:
        raise ValidationError("aggregate_windows needs at least one key column")
    for column in [*keys, timestamp_column]:
        if column not in available:
            raise ValidationError(
                f"column {column!r} is not in the events; available columns: "
                f"{sorted(available)}; fix the key/timestamp column name or the source"
            )
    if not isinstance(available[timestamp_column], TimestampType | TimestampNTZType):
        raise ValidationError(
            f"timestamp column {timestamp_column!r} is "
            f"{available[timestamp_column].simpleString()}; cast it to a UTC timestamp"
        )
    taken = {EVENT_TIMESTAMP, *keys}
    clashes = sorted(taken.intersection(feature_names)) + (
        [EVENT_TIMESTAMP] if EVENT_TIMESTAMP in keys else []
    )
    if clashes:
        raise ValidationError(
            f"output column(s) {clashes} would appear twice (keys, {EVENT_TIMESTAMP!r} and "
            "{feature}_{window} names must differ); rename the key or the feature"
        )


def _bucket_rollup(
    events: DataFrame,
    keys: list[str],
    timestamp_column: str,
    plan: PartialPlan,
    grain_us: int,
    first: int | None,
    stop: int | None,
    reach: int,
) -> DataFrame:
    """One row per key and bucket with the partials; ``__idx`` = ``ceil_grain(e) / g``."""
    ts = F.col(timestamp_column).cast(TimestampType())
    kept = events.where(F.col(timestamp_column).isNotNull())
    for key in keys:
        kept = kept.where(F.col(key).isNotNull())
    # Events outside the buckets that can matter are dropped before the shuffle: buckets
    # >= stop feed no boundary < stop; buckets < first - reach feed none >= first.
    if stop is not None:
        kept = kept.where(ts <= _boundary_literal((stop - 1) * grain_us))
    if first is not None:
        kept = kept.where(ts > _boundary_literal((first - reach - 1) * grain_us))
    # A key or the timestamp may be aggregated too; select each column once.
    columns = [c for c in plan.columns if c not in ("*", *keys)]
    staged = kept.select(*keys, ts.alias(_TS), *columns).withColumn(_IDX, _ceil_index(grain_us))
    # Shuffle the narrow events once, by key: the bucket aggregation and the per-key window
    # sort both reuse that partitioning, so the (1 + windows)x wider exploded rows never move.
    return staged.repartition(*keys).groupBy(*keys, _IDX).agg(*plan.bucket_aggs(_TS))


def _boundary_literal(micros: int) -> Column:
    return F.lit(_EPOCH + timedelta(microseconds=micros)).cast(TimestampType())


def _ceil_index(grain_us: int) -> Column:
    """``ceil(unix_micros(ts) / g)`` in exact integer arithmetic (no double rounding)."""
    micros = f"unix_micros({_TS})"
    rem = f"pmod({micros}, {grain_us}L)"
    return F.expr(f"({micros} - {rem}) div {grain_us}L + if({rem} > 0, 1L, 0L)")


def _candidates(
    buckets: DataFrame, keys: list[str], spec: AggregationSpec, grain_us: int, stop: int | None
) -> DataFrame:
    """Each bucket row, plus one row per window at the boundary where the bucket leaves it.

    All rows of a bucket carry its partials and an ``offset`` (0, or ``w/g``) saying which role
    the row plays. Several rows may land on one boundary; they get identical window values and
    the change filter keeps one. Rows before ``start`` stay: running totals need them.
    """
    offsets = sorted({0, *(_micros(w) // grain_us for w in spec.windows)})
    partials = [c for c in buckets.columns if c not in (*keys, _IDX)]
    exploded = buckets.select(
        *keys, F.col(_IDX), *partials, F.explode(F.array(*map(F.lit, offsets))).alias(_OFFSET)
    )
    rows = exploded.withColumn(_IDX, F.col(_IDX) + F.col(_OFFSET))
    return rows if stop is None else rows.where(F.col(_IDX) < stop)


def _window_values(
    candidates: DataFrame,
    keys: list[str],
    spec: AggregationSpec,
    plan: PartialPlan,
    grain_us: int,
) -> DataFrame:
    """Every feature over every window at every candidate boundary (one sort per key)."""
    frames = Frames(Window.partitionBy(*keys).orderBy(_IDX), _IDX, _OFFSET, grain_us)
    values: list[Column] = []
    for i, feature in enumerate(spec.features):
        for window in spec.windows:
            width = _micros(window) // grain_us
            name = feature_column_name(feature, window)
            values.append(plan.window_value(feature, i, width, frames).alias(name))
    return candidates.select(*keys, _IDX, *values)


def _changed_rows(
    values: DataFrame, keys: list[str], features: list[str], first: int | None, grain_us: int
) -> DataFrame:
    """Keep a key's first row, rows that differ from the previous one, and the first in range."""
    ordered = Window.partitionBy(*keys).orderBy(_IDX)
    prev_idx = F.lag(_IDX).over(ordered)
    changed = F.lit(False)
    for name in features:
        changed = changed | ~F.col(name).eqNullSafe(F.lag(name).over(ordered))
    if first is not None:
        changed = changed | (prev_idx < first)
    keep = PREFIX + "keep"
    flagged = values.withColumn(keep, prev_idx.isNull() | ((prev_idx != F.col(_IDX)) & changed))
    kept = flagged.where(F.col(keep))
    if first is not None:
        kept = kept.where(F.col(_IDX) >= first)
    return kept.select(*keys, _stamp(grain_us), *features)


def _stamp(grain_us: int) -> Column:
    return F.timestamp_micros(F.col(_IDX) * F.lit(grain_us)).alias(EVENT_TIMESTAMP)
