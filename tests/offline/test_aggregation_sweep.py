"""The sweep engine against the window engine: the same rows, over many keys, Arrow batches
that cut keys apart, several partitions, composite keys and clipped ranges. (Both engines are
checked against the brute-force oracle in test_aggregation.py.)"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from sparkfs.errors import ValidationError
from sparkfs.offline.aggregation import AggFeature, AggregationSpec, aggregate_windows
from sparkfs.offline.aggregation_sweep import _Output, _Sweep
from tests.offline.test_aggregation import BASE, HOURLY, KEYS, SCHEMA, SWEEP_HOURLY


def _random_rows(seed: int, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        at = BASE + timedelta(seconds=rng.randrange(0, 6 * 86400))
        rows.append((rng.randrange(3), f"u{rng.randrange(400)}", at,
                     rng.choice([None, *range(-5, 50)]),
                     rng.choice([None, 0.1, 0.25, -3.5, 1e3, 7.0]), None))
    return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_sweep_equals_the_window_engine_across_batches_and_partitions(
        spark: SparkSession) -> None:
    events = spark.createDataFrame(_random_rows(3, 6000), SCHEMA).repartition(3)
    ranges = [(None, None), (BASE + timedelta(hours=30), BASE + timedelta(days=4, hours=7))]
    old = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "97")  # keys straddle
    try:
        for start, end in ranges:
            got = {}
            for engine in ("window", "sweep"):
                out = aggregate_windows(events, keys=KEYS, timestamp_column="ts",
                                        spec=SWEEP_HOURLY, start=start, end=end, engine=engine)
                got[engine] = sorted(tuple(r) for r in out.collect())
                schema = out.schema
            assert len(got["sweep"]) == len(got["window"]) > 1000
            for w, s in zip(got["window"], got["sweep"], strict=True):
                assert all(_same(x, y) for x, y in zip(w, s, strict=True)), (schema, w, s)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", old)


def test_auto_picks_the_sweep_only_where_it_applies(spark: SparkSession) -> None:
    events = spark.createDataFrame(_random_rows(4, 50), SCHEMA)
    auto = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=SWEEP_HOURLY)
    assert "MapInArrow" in auto._jdf.queryExecution().executedPlan().toString()
    window = aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=HOURLY)
    assert "MapInArrow" not in window._jdf.queryExecution().executedPlan().toString()
    with pytest.raises(ValidationError, match="sweep engine computes count, sum and avg"):
        aggregate_windows(events, keys=KEYS, timestamp_column="ts", spec=HOURLY, engine="sweep")
    decimal = AggregationSpec("hour", (timedelta(hours=1),),
                              (AggFeature("s", "sum", "amount"),))
    cast = events.withColumn("amount", events["amount"].cast("decimal(10,2)"))
    plan = aggregate_windows(cast, keys=KEYS, timestamp_column="ts", spec=decimal)
    assert "MapInArrow" not in plan._jdf.queryExecution().executedPlan().toString()


def test_chunks_cut_at_key_boundaries_give_the_same_rows_as_one_pass() -> None:
    """Batches are gathered into chunks and cut where a key begins: however the batches fall,
    the output equals one pass over the whole partition."""
    rng = random.Random(8)
    keys, idx = [], []
    for k in range(60):
        at = 1000
        for _ in range(rng.randrange(1, 40)):
            at += rng.randrange(1, 9)
            keys.append(f"k{k:02d}")
            idx.append(at)
    table = pa.table({"k": keys, "i": pa.array(idx, pa.int64()),
                      "c": pa.array([rng.randrange(0, 3) for _ in idx], pa.int64()),
                      "s": pa.array([rng.choice([None, 1.5, -2.0]) for _ in idx], pa.float64())})
    outputs = tuple(_Output(f"{fn}_{w}", fn, "c", None if fn == "count" else "s", w)
                    for fn in ("count", "sum", "avg") for w in (1, 5, 20))
    whole = _Sweep(("k",), "i", (("c", True, "c"), ("s", False, "s")), outputs, (0, 1, 5, 20), 1010, 1150)
    expected = whole.sweep(table)
    assert expected.num_rows > 100
    for chunk_rows, batch_rows in [(1, 7), (50, 13), (10_000, 33)]:
        chunked = _Sweep(("k",), "i", (("c", True, "c"), ("s", False, "s")), outputs, (0, 1, 5, 20),
                         1010, 1150, chunk_rows=chunk_rows)
        batches = table.to_batches(max_chunksize=batch_rows)
        got = pa.Table.from_batches(list(chunked(iter(batches))))
        assert got.equals(expected), (chunk_rows, batch_rows)


def test_an_integral_sum_that_could_leave_bigint_is_refused_not_wrapped() -> None:
    """int64 running totals would wrap silently where Spark's ANSI mode raises: a chunk whose
    absolute values reach 2^62 is refused, naming the column and the fix."""
    big = 2**61
    table = pa.table({"k": ["a", "a", "b"], "i": pa.array([1, 2, 1], pa.int64()),
                      "c": pa.array([1, 1, 1], pa.int64()),
                      "s": pa.array([big, big, 5], pa.int64())})
    outputs = (_Output("s_1", "sum", "c", "s", 1),)
    sweep = _Sweep(("k",), "i", (("c", True, "*"), ("s", True, "amount")), outputs, (0, 1),
                   None, None)
    with pytest.raises(ArithmeticError, match=r"sum of column 'amount'.*cast the column"):
        sweep.sweep(table)
    fine = table.set_column(3, "s", pa.array([big // 4, -big // 4, 5], pa.int64()))
    assert sweep.sweep(fine).column("s_1").to_pylist() == [big // 4, -big // 4, None, 5, None]
