"""Cost of the quality gate: 10 expectations (one of each type) on 4M rows vs the write alone.

Baseline: a materialize-like Delta write of the batch (``_ingested_at`` stamped, partitioned by
event date), measured in the same run. Gated: the gate (``sparkfs.quality.evaluate``: the single
aggregation plus the separate ``unique`` job) followed by the same write; the gate without its
``unique`` rule is timed too. Each mode runs ``BENCH_REPEATS`` (default 1) times after a
warm-up on 200k rows; figures are medians. Prints progress to stderr and one JSON object on the
last stdout line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from delta import configure_spark_with_delta_pip
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView
from sparkfs.quality.check import compile_rules, evaluate
from sparkfs.session import BASE_SPARK_CONF

ROWS = 4_000_000
REPEATS = int(os.environ.get("BENCH_REPEATS", "1"))
EXPECTATIONS = [
    {"type": "not_null", "column": "user_id"},
    {"type": "unique"},
    {"type": "range", "column": "age", "min": 0, "max": 150},
    {"type": "allowed_values", "column": "country", "values": ["US", "GB", "DE", "FR", "JP"]},
    {"type": "regex", "column": "email", "pattern": "^[^@]+@[^@]+$"},
    {"type": "max_null_fraction", "column": "score", "fraction": 0.01},
    {"type": "row_count", "min": 1},
    {"type": "max_change", "metric": "mean", "column": "score", "max_fraction": 0.5},
    {"type": "freshness", "max_age": "3650d"},
    {"type": "sql", "predicate": "score >= 0 AND score < 1"},
]


def log(msg: str) -> None:
    print(f"[bench/quality] {msg}", file=sys.stderr, flush=True)


def session() -> SparkSession:
    builder = SparkSession.builder.master(os.environ.get("BENCH_MASTER", "local[2]")).appName("bench-quality")
    conf = {**BASE_SPARK_CONF, "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
            "spark.driver.memory": "4g", "spark.databricks.delta.snapshotPartitions": "2"}
    for key, value in conf.items():
        builder = builder.config(key, value)
    return configure_spark_with_delta_pip(builder).getOrCreate()


def batch(spark: SparkSession) -> DataFrame:
    """4M rows shaped like a feature view batch: keys, event_timestamp, four features."""
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    return spark.range(ROWS, numPartitions=4).select(
        (F.col("id") % 200_000).alias("user_id"),
        F.timestamp_seconds(F.lit(start) + F.col("id")).alias("event_timestamp"),
        ((F.col("id") % 90) + 10).cast("int").alias("age"),
        F.element_at(F.array(*[F.lit(c) for c in ("US", "GB", "DE", "FR", "JP")]), (F.col("id") % 5 + 1).cast("int")).alias("country"),
        F.concat(F.lit("u"), F.col("id").cast("string"), F.lit("@example.com")).alias("email"),
        F.rand(7).alias("score"),
    )


def write(df: DataFrame, path: str) -> None:
    stamped = df.withColumn("_ingested_at", F.current_timestamp()).withColumn("event_date", F.to_date("event_timestamp"))
    stamped.write.format("delta").mode("overwrite").partitionBy("event_date").save(path)


def main() -> None:
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    view = FeatureView.model_validate({
        "name": "bench", "entities": ["user"], "source": {"type": "delta", "path": "x"},
        "timestamp_column": "ts", "owner": "bench", "expectations": EXPECTATIONS,
        "features": [{"name": n, "type": t} for n, t in
                     (("age", "int32"), ("country", "string"), ("email", "string"), ("score", "float64"))],
    })
    df = batch(spark)
    rules = compile_rules(view, ["user_id"], df)
    previous = {"mean:score": 0.5}
    root = tempfile.mkdtemp(prefix="bench-quality-")
    no_unique = [r for r in rules if r.expectation.type != "unique"]
    timings: dict[str, list[float]] = {"write": [], "gate": [], "gated": [], "gate_no_unique": []}
    try:
        log(f"warm-up on 200k rows ({ROWS:,} rows measured, {len(rules)} expectations)")
        small = df.limit(200_000)
        write(small, f"{root}/warm")
        evaluate(small, compile_rules(view, ["user_id"], small), previous, datetime.now(UTC))
        for rep in range(REPEATS):
            t0 = time.perf_counter()
            write(df, f"{root}/plain{rep}")
            timings["write"].append(time.perf_counter() - t0)
            log(f"rep {rep}: write alone {timings['write'][-1]:.1f}s")
            t0 = time.perf_counter()
            _, _, results = evaluate(df, rules, previous, datetime.now(UTC))
            t1 = time.perf_counter()
            write(df, f"{root}/gated{rep}")
            t2 = time.perf_counter()
            failed = [r.label for r in results if not r.passed]
            assert not failed, f"bench data should pass every rule, failed: {failed}"
            timings["gate"].append(t1 - t0)
            timings["gated"].append(t2 - t0)
            t3 = time.perf_counter()
            evaluate(df, no_unique, previous, datetime.now(UTC))
            timings["gate_no_unique"].append(time.perf_counter() - t3)
            log(f"rep {rep}: gate without unique {timings['gate_no_unique'][-1]:.1f}s")
            log(f"rep {rep}: gate {t1 - t0:.1f}s + write {t2 - t1:.1f}s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        spark.stop()
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(json.dumps({
        "rows": ROWS, "expectations": len(EXPECTATIONS), "repeats": REPEATS,
        "write_alone_s": round(med["write"], 2), "gate_s": round(med["gate"], 2),
        "gate_plus_write_s": round(med["gated"], 2),
        "gated_vs_write_ratio": round(med["gated"] / med["write"], 3), "target_ratio": 1.3,
        "gate_without_unique_s": round(med["gate_no_unique"], 2),
        "without_unique_vs_write_ratio": round((med["write"] + med["gate_no_unique"]) / med["write"], 3),
    }))


if __name__ == "__main__":
    main()
