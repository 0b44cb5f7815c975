"""Windowed aggregations against a brute-force oracle (see aggregation_oracle.py)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from sparkfs.errors import DefinitionError, ValidationError
from sparkfs.offline.aggregation import (
    AggFeature,
    AggregationSpec,
    Engine,
    aggregate_windows,
    output_columns,
    parse_window,
    required_event_start,
    window_label,
)
from tests.offline.aggregation_oracle import (
    Event,
    boundaries,
    expected_at,
    pit_read,
    values_match,
)

BASE = datetime(2024, 3, 1, tzinfo=UTC)
KEYS = ["case_id", "user"]
SCHEMA = StructType(
    [
        StructField("case_id", LongType()),
        StructField("user", StringType()),
        StructField("ts", TimestampType()),
        StructField("amount", LongType()),
        StructField("score", DoubleType()),
        StructField("merchant", StringType()),
    ]
)
FEATURES = (
    AggFeature("n_events", "count"),
    AggFeature("n_amount", "count", "amount"),
    AggFeature("amount_sum", "sum", "amount"),
    AggFeature("amount_avg", "avg", "amount"),
    AggFeature("amount_min", "min", "amount"),
    AggFeature("amount_max", "max", "amount"),
    AggFeature("score_sum", "sum", "score"),
    AggFeature("last_merchant", "last", "merchant"),
    AggFeature("merchant_max", "max", "merchant"),
    AggFeature("merchants", "approx_count_distinct", "merchant"),
    AggFeature("amounts", "approx_count_distinct", "amount"),
)
HOURLY = AggregationSpec(
    "hour", (timedelta(hours=1), timedelta(hours=3), timedelta(days=1)), FEATURES
)
DAILY = AggregationSpec("day", (timedelta(days=1), timedelta(days=3)), FEATURES)
SPAN_GRAINS = 40  # events fall within this many grains after BASE


def _event(grain: timedelta) -> st.SearchStrategy[tuple[Any, ...]]:
    """An event row (minus case_id): times favour boundaries and their neighbours."""
    boundary = st.integers(0, SPAN_GRAINS).map(lambda i: BASE + i * grain)
    near = st.tuples(boundary, st.sampled_from([-1, 1, -1_000_000, 1_000_000])).map(
        lambda p: p[0] + timedelta(microseconds=p[1])
    )
    anywhere = st.integers(0, SPAN_GRAINS * (grain // timedelta(seconds=1))).map(
        lambda s: BASE + timedelta(seconds=s)
    )
    return st.tuples(
        st.sampled_from(["a", "a", "b", "c", None]),
        st.one_of(boundary, near, anywhere, anywhere, st.none()),
        st.one_of(st.none(), st.integers(-3, 5)),
        st.one_of(st.none(), st.sampled_from([0.5, -1.25, 2.0, 1e3])),
        st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3", "m4"])),
    )


def _cases(grain: timedelta) -> st.SearchStrategy[list[list[tuple[Any, ...]]]]:
    return st.lists(st.lists(_event(grain), max_size=10), min_size=15, max_size=40)


def _rows(cases: list[list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    return [(case_id, *event) for case_id, events in enumerate(cases) for event in events]


def _events_by_key(rows: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Event]]:
    out: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for case_id, user, ts, amount, score, merchant in rows:
        if user is not None and ts is not None:
            values = {"amount": amount, "score": score, "merchant": merchant}
            out[(case_id, user)].append(Event((case_id, user), ts, values))
    return out


def _collect(df: DataFrame) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in df.collect():
        d = row.asDict()
        d["event_timestamp"] = d["event_timestamp"].replace(tzinfo=UTC)
        out[(d["case_id"], d["user"])].append(d)
    for rows in out.values():
        rows.sort(key=lambda r: r["event_timestamp"])
    return out


def _check_against_oracle(
    spec: AggregationSpec,
    rows: Sequence[tuple[Any, ...]],
    output: dict[tuple[Any, ...], list[dict[str, Any]]],
) -> None:
    """PIT-read the output at every boundary and compare with the brute force aggregate."""
    events = _events_by_key(rows)
    assert set(output) <= set(events), "rows for an entity without events (or a null key)"
    last = BASE + (SPAN_GRAINS + 2) * spec.grain_size + spec.max_window
    for key in events:
        for t in boundaries(BASE - 2 * spec.grain_size, last, spec.grain_size):
            want = expected_at(spec, events[key], t)
            got = pit_read(output.get(key, []), t)
            if want is None:
                assert got is None, f"{key} at {t}: expected no row, got {got}"
                continue
            assert got is not None, f"{key} at {t}: expected {want}, got no row"
            bad = values_match(spec, got, want)
            assert not bad, f"{key} at {t} (row {got['event_timestamp']}): {bad}"


def _check_shape(
    spec: AggregationSpec, output: dict[tuple[Any, ...], list[dict[str, Any]]]
) -> None:
    """Rows sit on grain boundaries, and consecutive rows of a key always differ."""
    names = [n for n, _ in output_columns(spec, SCHEMA)]
    for key, rows in output.items():
        for row in rows:
            assert (row["event_timestamp"] - BASE) % spec.grain_size == timedelta(0)
        for before, after in itertools.pairwise(rows):
            assert before["event_timestamp"] < after["event_timestamp"], key
            assert any(before[n] != after[n] for n in names), f"{key}: repeated row {after}"


#: count, sum and avg only: what the sweep engine computes (integral and floating columns).
INVERTIBLE = (
    *(f for f in FEATURES if f.function in ("count", "sum", "avg")),
    AggFeature("score_avg", "avg", "score"),
)
SWEEP_HOURLY = AggregationSpec("hour", HOURLY.windows, INVERTIBLE)
SWEEP_DAILY = AggregationSpec("day", DAILY.windows, INVERTIBLE)


@pytest.mark.parametrize(
    ("spec", "engine"),
    [(HOURLY, "window"), (DAILY, "window"), (SWEEP_HOURLY, "sweep"), (SWEEP_DAILY, "sweep")],
    ids=["hour", "day", "sweep-hour", "sweep-day"],
)
def test_point_in_time_reads_match_brute_force(
        spark: SparkSession, spec: AggregationSpec, engine: Engine) -> None:
    @settings(
        max_examples=4 if spec.grain == "hour" else 3,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases=_cases(spec.grain_size))
    def check(cases: list[list[tuple[Any, ...]]]) -> None:
        rows = _rows(cases)
        events = spark.createDataFrame(rows, SCHEMA)
        out = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec,
                                engine=engine)
        output = _collect(out)
        _check_shape(spec, output)
        _check_against_oracle(spec, rows, output)

    check()


@pytest.mark.parametrize("spec", [HOURLY, SWEEP_HOURLY], ids=["window", "sweep"])
def test_backfilled_ranges_compose_to_the_full_history(
        spark: SparkSession, spec: AggregationSpec) -> None:
    """Ranges computed separately (each from required_event_start) read like one full run."""

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(cases=_cases(spec.grain_size), cuts=st.tuples(st.integers(1, 20), st.integers(1, 30)))
    def check(cases: list[list[tuple[Any, ...]]], cuts: tuple[int, int]) -> None:
        rows = _rows(cases)
        events = spark.createDataFrame(rows, SCHEMA)
        s1 = BASE + cuts[0] * spec.grain_size
        s2 = s1 + cuts[1] * spec.grain_size
        parts = []
        for start, end in [(None, s1), (s1, s2), (s2, None)]:
            source = events
            if start is not None:
                source = events.where(F.col("ts") >= required_event_start(spec, start))
            part = aggregate_windows(
                source, keys=KEYS, timestamp_column="ts", spec=spec, start=start, end=end
            )
            bounds = [F.lit(True)]
            if start is not None:
                bounds.append(F.col("event_timestamp") >= start)
            if end is not None:
                bounds.append(F.col("event_timestamp") < end)
            inside = bounds[0]
            for b in bounds[1:]:
                inside = inside & b
            parts.append(part.withColumn("inside", inside))
        union = parts[0].unionByName(parts[1]).unionByName(parts[2])
        output = _collect(union)
        assert all(r["inside"] for rs in output.values() for r in rs), "row outside its range"
        _check_against_oracle(spec, rows, output)

    check()


def test_first_row_in_range_is_kept_even_if_unchanged(spark: SparkSession) -> None:
    spec = AggregationSpec(
        "hour", (timedelta(hours=1), timedelta(hours=2)), (AggFeature("n", "count", "amount"),)
    )
    rows = [(1, "a", BASE, None, None, None)]
    events = spark.createDataFrame(rows, SCHEMA)
    full = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec)
    assert [r["event_timestamp"] for r in full.collect()] == [BASE.replace(tzinfo=None)]
    start = BASE + timedelta(hours=1)
    clipped = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec, start=start)
    assert [tuple(r) for r in clipped.collect()] == [(1, "a", start.replace(tzinfo=None), 0, 0)]


def test_a_key_and_the_timestamp_can_be_aggregated(spark: SparkSession) -> None:
    spec = AggregationSpec(
        "hour",
        (timedelta(hours=1),),
        (AggFeature("n", "count", "user"), AggFeature("seen", "last", "ts")),
    )
    at = BASE + timedelta(minutes=5)
    events = spark.createDataFrame([(1, "a", at, None, None, None)], SCHEMA)
    out = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec)
    first, _ = out.orderBy("event_timestamp").collect()
    assert (first["n_1h"], first["seen_1h"]) == (1, at.replace(tzinfo=None))


def test_required_event_start_reaches_one_grain_past_the_longest_window() -> None:
    assert required_event_start(HOURLY, BASE + timedelta(hours=10)) == BASE - timedelta(hours=15)
    # An unaligned start counts from its first boundary.
    unaligned = BASE + timedelta(hours=9, minutes=1)
    assert required_event_start(HOURLY, unaligned) == BASE - timedelta(hours=15)


def test_approx_distinct_is_close_for_many_values(spark: SparkSession) -> None:
    spec = AggregationSpec(
        "day", (timedelta(days=1),), (AggFeature("d", "approx_count_distinct", "merchant"),)
    )
    events = spark.range(5000).select(
        F.lit(1).cast("long").alias("case_id"),
        F.lit("a").alias("user"),
        F.lit(BASE).cast("timestamp").alias("ts"),
        F.lit(None).cast("long").alias("amount"),
        F.lit(None).cast("double").alias("score"),
        (F.col("id") % 3000).cast("string").alias("merchant"),
    )
    out = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec)
    entered, left = out.orderBy("event_timestamp").collect()
    assert abs(entered["d_1d"] - 3000) <= 0.05 * 3000
    assert left["d_1d"] == 0


def test_output_columns_names_and_types() -> None:
    schema = StructType([*SCHEMA.fields, StructField("price", DecimalType(10, 2))])
    spec = AggregationSpec(
        "hour",
        (timedelta(hours=1), timedelta(days=7)),
        (
            AggFeature("n", "count"),
            AggFeature("p", "sum", "price"),
            AggFeature("a", "avg", "amount"),
            AggFeature("m", "last", "merchant"),
        ),
    )
    assert output_columns(spec, schema) == [
        ("n_1h", LongType()),
        ("n_7d", LongType()),
        ("p_1h", DecimalType(20, 2)),
        ("p_7d", DecimalType(20, 2)),
        ("a_1h", DoubleType()),
        ("a_7d", DoubleType()),
        ("m_1h", StringType()),
        ("m_7d", StringType()),
    ]
    with pytest.raises(ValidationError, match="source schema"):
        output_columns(spec)


def test_window_labels_use_the_largest_exact_unit() -> None:
    cases = {
        timedelta(hours=1): "1h",
        timedelta(days=7): "7d",
        timedelta(hours=36): "36h",
        timedelta(minutes=30): "30m",
        timedelta(seconds=90): "90s",
        timedelta(days=30): "30d",
    }
    for td, label in cases.items():
        assert window_label(td) == label
        assert parse_window(label) == td
    for bad in (timedelta(0), timedelta(milliseconds=1500), timedelta(hours=-1)):
        with pytest.raises(ValidationError):
            window_label(bad)
    with pytest.raises(ValidationError, match="not understood"):
        parse_window("1w")


def test_spec_problems_are_all_reported() -> None:
    with pytest.raises(DefinitionError) as err:
        AggregationSpec(
            "hour",
            (timedelta(minutes=90), timedelta(hours=2), timedelta(hours=2)),
            (AggFeature("x", "sum"), AggFeature("x", "median", "amount")),  # type: ignore[arg-type]
        )
    text = str(err.value)
    assert "windows[0]" in text and "not a whole number of hours" in text
    assert "windows[2]" in text and "listed twice" in text
    assert "features[0].column" in text and "features[1].name" in text
    assert "'median' is unknown" in text
    with pytest.raises(DefinitionError, match="not a whole number of days"):
        AggregationSpec("day", (timedelta(hours=12),), (AggFeature("n", "count"),))


def test_bad_inputs_name_the_column(spark: SparkSession) -> None:
    events = spark.createDataFrame([], SCHEMA)
    spec = AggregationSpec("hour", (timedelta(hours=1),), (AggFeature("s", "sum", "amout"),))
    with pytest.raises(ValidationError, match="'amout' is not in the events"):
        aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=spec)
    ok = AggregationSpec("hour", (timedelta(hours=1),), (AggFeature("n", "count"),))
    with pytest.raises(ValidationError, match="'usr' is not in the events"):
        aggregate_windows(events, keys=["usr"], timestamp_column="ts", spec=ok)
    with pytest.raises(ValidationError, match="'user' is string"):
        aggregate_windows(events, keys=["case_id"], timestamp_column="user", spec=ok)
    text = AggregationSpec("hour", (timedelta(hours=1),), (AggFeature("s", "sum", "merchant"),))
    with pytest.raises(ValidationError, match=r"sum needs a numeric column.*'merchant'"):
        aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=text)
    with pytest.raises(ValidationError, match="would appear twice"):
        clash = events.withColumnRenamed("user", "n_1h")
        aggregate_windows(clash, keys=["n_1h"], timestamp_column="ts", spec=ok)
    with pytest.raises(ValidationError, match="must be before end"):
        aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=ok, start=BASE, end=BASE)
