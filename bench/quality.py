"""Benchmark: the quality gate's cost inside a real materialization, as a ratio to the same
materialization without it.

A plain feature view with 10 expectations, one of each type (not_null, unique over keys + event
time, range, allowed_values, regex, max_null_fraction, row_count, max_change on a mean,
freshness, sql), is materialized with ``sparkfs.pipeline.materialize.materialize`` from a 4M-row
Delta source: once with ``gate=None`` (the baseline) and once with the default quality gate, on
the same date range, so both runs do the same source scan, conform step and Delta
``replaceWhere`` write. The gated run adds the gate's single aggregation (over the cached
batch: the write reads the cache instead of recomputing the batch) and the quality results
written to the registry. A warm-up on two days of data comes first; each mode then runs
``BENCH_REPEATS`` times (default 2, alternating), and the medians are reported.

Progress goes to stderr; the last stdout line is one JSON object (keys in bench/README.md).
Run: ``PYTHONPATH=. python bench/quality.py`` (``BENCH_ROWS`` to change the size).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.config import load_config
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.quality import quality_gate
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.quality_results import QualityStore
from sparkfs.session import build_session

ROWS = int(os.environ.get("BENCH_ROWS", 4_000_000))
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
START = datetime(2026, 1, 1, tzinfo=UTC)
VIEW = "bench_events"
FEATURES = f"""
feature_views:
  - name: {VIEW}
    entities: [user]
    source: {{type: delta, path: bench/events}}
    timestamp_column: ts
    features:
      - {{name: age, type: int32}}
      - {{name: country, type: string}}
      - {{name: email, type: string}}
      - {{name: score, type: float64}}
    owner: bench@example.com
    online: false
    expectations:
      - {{type: not_null, column: user_id}}
      - {{type: unique}}
      - {{type: range, column: age, min: 0, max: 150}}
      - {{type: allowed_values, column: country, values: [US, GB, DE, FR, JP]}}
      - {{type: regex, column: email, pattern: "^[^@]+@[^@]+$"}}
      - {{type: max_null_fraction, column: score, fraction: 0.01}}
      - {{type: row_count, min: 1}}
      - {{type: max_change, metric: mean, column: score, max_fraction: 0.5}}
      - {{type: freshness, max_age: 3650d}}
      - {{type: sql, predicate: "score >= 0 AND score < 1"}}
"""
CONFIG = """project: bench
data_dir: ../data
offline: {root: ../offline, sandbox_root: ../sandbox}
registry: {url: "sqlite:///../registry.db"}
spark:
  master: local[2]
  conf:
    spark.sql.shuffle.partitions: "4"
    spark.driver.memory: 4g
    spark.databricks.delta.snapshotPartitions: "2"
    spark.ui.enabled: "false"
"""


def log(msg: str) -> None:
    print(f"[bench/quality {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_source(spark: SparkSession, path: str) -> tuple[date, date]:
    """ROWS events, one a second from START, 200k users; returns the [start, end) date range."""
    start = int(START.timestamp())
    df = spark.range(ROWS, numPartitions=4).select(
        (F.col("id") % 200_000).alias("user_id"),
        F.timestamp_seconds(F.lit(start) + F.col("id")).alias("ts"),
        ((F.col("id") % 90) + 10).cast("int").alias("age"),
        F.element_at(F.array(*[F.lit(c) for c in ("US", "GB", "DE", "FR", "JP")]),
                     (F.col("id") % 5 + 1).cast("int")).alias("country"),
        F.concat(F.lit("u"), F.col("id").cast("string"), F.lit("@example.com")).alias("email"),
        F.rand(7).alias("score"),
    )
    df.write.format("delta").mode("overwrite").save(path)
    last = START + timedelta(seconds=ROWS - 1)
    return START.date(), last.date() + timedelta(days=1)


def timed(spark: SparkSession, ws: Workspace, gated: bool, start: date, end: date) -> float:
    began = time.perf_counter()
    run = materialize(spark, ws, VIEW, start=start, end=end, gate=quality_gate if gated else None)
    assert run.status == "succeeded", run
    return time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sparkfs-bench-quality-") as tmp:
        root = Path(tmp)
        (root / "conf" / "features").mkdir(parents=True)
        (root / "conf" / "features" / "entities.yaml").write_text(
            "entities:\n  - name: user\n    join_keys: [{name: user_id, type: int64}]\n")
        (root / "conf" / "features" / "bench.yaml").write_text(FEATURES)
        (root / "conf" / "sparkfs.yaml").write_text(CONFIG)
        config = load_config(root / "conf" / "sparkfs.yaml")
        ws = Workspace.open(config, user="bench")
        ws.definitions.apply(ws.repository, user="bench")
        spark = build_session(config)
        spark.sparkContext.setLogLevel("ERROR")
        log(f"writing {ROWS:,} source rows (not timed)")
        first, end = write_source(spark, str(root / "data" / "bench" / "events"))
        log("warm-up on two days, both modes")
        timed(spark, ws, False, first, first + timedelta(days=2))
        timed(spark, ws, True, first, first + timedelta(days=2))
        times: dict[str, list[float]] = {"alone": [], "gated": []}
        for rep in range(REPEATS):
            for mode in (("alone", "gated") if rep % 2 == 0 else ("gated", "alone")):
                seconds = timed(spark, ws, mode == "gated", first, end)
                times[mode].append(seconds)
                log(f"rep {rep}: materialize {'with the gate' if mode == 'gated' else 'alone'} {seconds:.1f}s")
        store = QualityStore(ws.engine)
        per_run = [store.results(r.run_id) for r in ws.runs.list(feature_view=VIEW) if r.status == "succeeded"]
        results = next(r for r in per_run if r)  # the latest gated run
        failed = [r["rule"] for r in results if not r["passed"] and r["rule"] != "__batch__"]
        assert not failed, f"bench data should pass every rule, failed: {failed}"
        rules = len([r for r in results if r["rule"] != "__batch__"])
        spark.stop()
    alone, gated = statistics.median(times["alone"]), statistics.median(times["gated"])
    print(json.dumps({
        "rows": ROWS, "expectations": rules, "repeats": REPEATS,
        "materialize_alone_s": round(alone, 2), "materialize_gated_s": round(gated, 2),
        "gate_cost_s": round(gated - alone, 2),
        "gated_vs_alone_ratio": round(gated / alone, 3), "target_ratio": 1.3,
        "runs_alone_s": [round(t, 2) for t in times["alone"]],
        "runs_gated_s": [round(t, 2) for t in times["gated"]],
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
