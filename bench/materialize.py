"""Benchmark: windowed aggregation materialization vs. a naive per-row window scan.

Synthetic events (``spark.range``: ~50k users, 30 days, an ``amount`` column) are aggregated at
hour grain over 1h/1d/7d/30d windows (count, sum, avg) with
:func:`sparkfs.offline.aggregation.aggregate_windows` and written to a Delta table partitioned
by event date, as the offline store does. The baseline computes the same rows naively: for each
output boundary row, join back to the raw events in its window and group by (a scan of every
window per row), written the same way. Progress goes to stderr; the last stdout line is one
JSON object (keys documented in bench/README.md).

The previous engine (Spark window frames, ``engine="window"``) runs at every size too, and its
rows are compared with the default's.

Run: ``PYTHONPATH=. python bench/materialize.py`` (sizes 1M and 4M; naive at 1M only, since
its cost grows with events per user squared — pass ``--naive-sizes`` to change that).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from delta import configure_spark_with_delta_pip
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from sparkfs.offline.aggregation import (
    AggFeature,
    AggregationSpec,
    aggregate_windows,
    output_columns,
    window_label,
)
from sparkfs.session import BASE_SPARK_CONF

BASE = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 30
SPEC = AggregationSpec(
    "hour",
    (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30)),
    (
        AggFeature("txn_count", "count", "amount"),
        AggFeature("txn_amount_sum", "sum", "amount"),
        AggFeature("txn_amount_avg", "avg", "amount"),
    ),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_spark(partitions: int) -> SparkSession:
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-bench-materialize")
    conf = {
        **BASE_SPARK_CONF,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.driver.memory": "4g",
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    return configure_spark_with_delta_pip(builder).getOrCreate()


def make_events(spark: SparkSession, n: int, users: int) -> DataFrame:
    """``n`` events spread uniformly over ``users`` users and 30 days (deterministic)."""
    span_us = DAYS * 86_400 * 1_000_000
    base_us = (BASE - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return spark.range(n).select(
        F.pmod(F.xxhash64("id"), F.lit(users)).alias("user_id"),
        F.timestamp_micros(
            F.lit(base_us) + F.pmod(F.xxhash64("id", F.lit(1)), F.lit(span_us))
        ).alias("ts"),
        (F.pmod(F.xxhash64("id", F.lit(2)), F.lit(100_000)) / 100.0).alias("amount"),
    )


def write_partitioned(df: DataFrame, path: str) -> None:
    (
        df.withColumn("event_date", F.to_date("event_timestamp"))
        .write.format("delta")
        .mode("overwrite")
        .partitionBy("event_date")
        .save(path)
    )


def write_floor(spark: SparkSession, computed: str, path: str) -> float:
    """Seconds to write the already computed output rows, cached in memory (not timed), to the
    same partitioned Delta layout: what any engine producing these rows must at least spend."""
    rows = spark.read.format("delta").load(computed).drop("event_date")
    cached = rows.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    try:
        cached.count()  # builds the cache (not timed)
        t0 = time.perf_counter()
        write_partitioned(cached, path)
        return time.perf_counter() - t0
    finally:
        cached.unpersist()


def naive(events: DataFrame, boundaries: DataFrame) -> DataFrame:
    """Each boundary row joined to the raw events of its longest window, then grouped."""
    longest = max(SPEC.windows)
    b = boundaries.select("user_id", "event_timestamp")
    e = events.select(F.col("user_id").alias("e_user"), "ts", "amount")
    joined = b.join(
        e,
        (b.user_id == e.e_user)
        & (e.ts > b.event_timestamp - F.expr(f"INTERVAL {longest.days} DAYS"))
        & (e.ts <= b.event_timestamp),
        "left",
    )
    aggs = []
    for window in SPEC.windows:
        label = window_label(window)
        seconds = int(window.total_seconds())
        inside = e.ts > b.event_timestamp - F.expr(f"INTERVAL {seconds} SECONDS")
        value = F.when(inside, e.amount)
        aggs += [
            F.count(value).alias(f"txn_count_{label}"),
            F.sum(value).alias(f"txn_amount_sum_{label}"),
            F.avg(value).alias(f"txn_amount_avg_{label}"),
        ]
    return joined.groupBy("user_id", "event_timestamp").agg(*aggs)


def mismatches(spark: SparkSession, ours: str, theirs: str) -> int:
    """Boundary rows where the two tables disagree (counts exactly, sums to 1e-6 relative)."""
    a = spark.read.format("delta").load(ours).alias("a")
    b = spark.read.format("delta").load(theirs).alias("b")
    joined = a.join(b, ["user_id", "event_timestamp"], "full")
    bad = F.lit(False)
    for name, _ in output_columns(SPEC, _schema(spark)):
        x, y = F.col(f"a.{name}"), F.col(f"b.{name}")
        if name.startswith("txn_count"):
            bad = bad | ~x.eqNullSafe(F.coalesce(y, F.lit(0)))
        else:
            bad = bad | ~(x.eqNullSafe(y) | (F.abs(x - y) <= 1e-6 * F.abs(y) + 1e-9))
    return joined.where(bad).count()


def _schema(spark: SparkSession) -> StructType:
    return make_events(spark, 1, 1).schema


def run_size(
    spark: SparkSession, root: Path, n: int, users: int, with_naive: bool, with_window: bool
) -> dict[str, float]:
    src = str(root / f"events_{n}")
    log(f"{n:,} events: writing the source table (not timed)")
    make_events(spark, n, users).write.format("delta").mode("overwrite").save(src)
    events = spark.read.format("delta").load(src)
    # The first query of a fresh table loads its Delta snapshot (~1 s); whichever engine ran
    # first would pay it, and the write floor (from a cache) does not: pay it here, untimed.
    events.agg(F.count(F.lit(1))).collect()
    out = str(root / f"features_{n}")
    log(f"{n:,} events: aggregate_windows + Delta write")
    t0 = time.perf_counter()
    write_partitioned(
        aggregate_windows(events, keys=["user_id"], timestamp_column="ts", spec=SPEC), out
    )
    seconds = time.perf_counter() - t0
    rows = spark.read.format("delta").load(out).count()
    log(f"{n:,} events: {seconds:.1f} s, {rows:,} rows written")
    result = {"seconds": seconds, "rows_written": float(rows), "events_per_s": n / seconds}
    result["write_floor_s"] = write_floor(spark, out, str(root / f"floor_{n}"))
    log(f"{n:,} events: write floor {result['write_floor_s']:.1f} s "
        f"({seconds / result['write_floor_s']:.2f}x)")
    if with_window:
        window_out = str(root / f"window_{n}")
        log(f"{n:,} events: the window engine (engine='window') + Delta write")
        t0 = time.perf_counter()
        write_partitioned(aggregate_windows(events, keys=["user_id"], timestamp_column="ts",
                                            spec=SPEC, engine="window"), window_out)
        result["window_engine_seconds"] = time.perf_counter() - t0
        log(f"{n:,} events: window engine {result['window_engine_seconds']:.1f} s; "
            "checking equality")
        result["mismatched_rows_vs_window"] = float(mismatches(spark, out, window_out))
    if with_naive:
        naive_out = str(root / f"naive_{n}")
        log(f"{n:,} events: naive per-row window join + Delta write")
        t0 = time.perf_counter()
        boundaries = spark.read.format("delta").load(out)
        write_partitioned(naive(events, boundaries), naive_out)
        result["naive_seconds"] = time.perf_counter() - t0
        log(f"{n:,} events: naive {result['naive_seconds']:.1f} s; checking equality")
        result["mismatched_rows"] = float(mismatches(spark, out, naive_out))
    return result


def warm_up(spark: SparkSession, users: int) -> None:
    """One untimed run of each engine on 200k events (JIT, the Python workers, Delta's
    classes), so the first timed size does not pay the process's start-up."""
    log("warming up (not timed)")
    events = make_events(spark, 200_000, users)
    for engine in ("sweep", "window"):
        out = aggregate_windows(events, keys=["user_id"], timestamp_column="ts", spec=SPEC,
                                engine=engine)
        out.write.format("noop").mode("overwrite").save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--window-sizes", type=int, nargs="*", default=[1_000_000, 4_000_000])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sparkfs-bench-materialize-"))
    spark = build_spark(args.partitions)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        warm_up(spark, args.users)
        results = {
            n: run_size(spark, root, n, args.users, n in args.naive_sizes,
                        n in args.window_sizes)
            for n in args.sizes
        }
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(summary(results, args.users)))


def summary(results: dict[int, dict[str, float]], users: int) -> dict[str, object]:
    out: dict[str, object] = {"users": users, "days": DAYS, "grain": SPEC.grain}
    out["windows"] = [window_label(w) for w in SPEC.windows]
    for n, r in results.items():
        tag = f"{n // 1_000_000}m" if n % 1_000_000 == 0 else str(n)
        out[f"seconds_{tag}"] = round(r["seconds"], 2)
        out[f"events_per_s_{tag}"] = round(r["events_per_s"])
        out[f"rows_written_{tag}"] = int(r["rows_written"])
        out[f"rows_per_user_{tag}"] = round(r["rows_written"] / users, 1)
        out[f"write_floor_s_{tag}"] = round(r["write_floor_s"], 2)
        out[f"seconds_over_write_floor_{tag}"] = round(r["seconds"] / r["write_floor_s"], 2)
        if "window_engine_seconds" in r:
            out[f"window_engine_seconds_{tag}"] = round(r["window_engine_seconds"], 2)
            out[f"speedup_vs_window_engine_{tag}"] = round(
                r["window_engine_seconds"] / r["seconds"], 2)
            out[f"mismatched_rows_vs_window_{tag}"] = int(r["mismatched_rows_vs_window"])
        if "naive_seconds" in r:
            out[f"naive_seconds_{tag}"] = round(r["naive_seconds"], 2)
            out[f"speedup_vs_naive_{tag}"] = round(r["naive_seconds"] / r["seconds"], 2)
            out[f"mismatched_rows_{tag}"] = int(r["mismatched_rows"])
    sizes = sorted(results)
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        out["time_ratio_largest_vs_smallest"] = round(
            results[big]["seconds"] / results[small]["seconds"], 2
        )
        out["size_ratio_largest_vs_smallest"] = round(big / small, 2)
    out["naive_sizes"] = [n for n in sizes if "naive_seconds" in results[n]]
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    main()
