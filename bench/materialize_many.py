"""Benchmark: the fixed cost of materializing many small feature views in one process.

Twenty feature views (ten plain, ten aggregation), each over its own 10k-row Delta source, are
materialized by ``materialize`` in one Spark session, as ``sparkfs materialize`` does: first
runs (tables created, everything computed), then warm runs (incremental reruns, tables and
constraints in place), one view after the other. Each run is tagged with a Spark job group, so
the Spark jobs it ran are counted with the status tracker. Then all twenty views run once more
together through ``materialize_all`` (the engine of ``sparkfs materialize --all``). Progress goes to stderr; the last stdout line is one JSON object (keys in
bench/README.md).

Run: ``PYTHONPATH=. python bench/materialize_many.py`` (``BENCH_VIEWS``, ``BENCH_ROWS`` to
change the size).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.config import load_config
from sparkfs.pipeline import materialize as pipeline
from sparkfs.pipeline.workspace import Workspace
from sparkfs.session import build_session

VIEWS = int(os.environ.get("BENCH_VIEWS", "20"))
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
CONFIG = """project: bench
data_dir: ../data
offline: {root: ../offline, sandbox_root: ../sandbox}
registry: {url: "sqlite:///../registry.db"}
spark:
  master: local[2]
  conf:
    spark.sql.shuffle.partitions: "2"
    spark.default.parallelism: "2"
    spark.databricks.delta.snapshotPartitions: "2"
    spark.driver.memory: 2g
    spark.ui.enabled: "false"
"""
PLAIN = """  - name: {name}
    entities: [user]
    source: {{type: delta, path: many/{name}}}
    timestamp_column: ts
    features:
      - {{name: age, type: int32}}
      - {{name: score, type: float64}}
    owner: bench@example.com
    online: false
    expectations:
      - {{type: not_null, column: user_id}}
      - {{type: range, column: age, min: 0, max: 150, severity: warn}}
"""
AGG = """  - name: {name}
    entities: [user]
    source: {{type: delta, path: many/{name}}}
    timestamp_column: ts
    aggregations:
      grain: hour
      windows: [1h, 1d, 7d]
      features:
        - {{name: txn_count, function: count, column: amount}}
        - {{name: txn_amount_sum, function: sum, column: amount}}
    owner: bench@example.com
    online: false
"""


def log(msg: str) -> None:
    print(f"[bench/materialize_many {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def view_names() -> list[str]:
    return [f"{'plain' if i % 2 == 0 else 'agg'}_{i:02d}" for i in range(VIEWS)]


def write_project(root: Path) -> Path:
    (root / "conf" / "features").mkdir(parents=True)
    (root / "conf" / "features" / "entities.yaml").write_text(
        "entities:\n  - name: user\n    join_keys: [{name: user_id, type: int64}]\n")
    body = "".join((PLAIN if n.startswith("plain") else AGG).format(name=n) for n in view_names())
    (root / "conf" / "features" / "views.yaml").write_text("feature_views:\n" + body)
    (root / "conf" / "sparkfs.yaml").write_text(CONFIG)
    return root / "conf" / "sparkfs.yaml"


def write_sources(spark: SparkSession, data: Path) -> None:
    """ROWS rows per view over DAYS days and 2k users (deterministic, one file each)."""
    span = DAYS * 86_400
    for i, name in enumerate(view_names()):
        df = spark.range(ROWS, numPartitions=1).select(
            F.pmod(F.xxhash64("id", F.lit(i)), F.lit(2000)).alias("user_id"),
            F.timestamp_seconds(F.lit(int(START.timestamp())) + F.pmod(F.xxhash64("id", F.lit(i + 100)), F.lit(span))).alias("ts"),
            (F.col("id") % 90 + 10).cast("int").alias("age"),
            F.rand(i).alias("score"),
            (F.pmod(F.xxhash64("id", F.lit(i + 200)), F.lit(10_000)) / 100.0).alias("amount"),
        )
        df.write.format("delta").mode("overwrite").save(str(data / "many" / name))


def jobs_in(spark: SparkSession, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def timed_run(spark: SparkSession, run: Callable[[], Any], group: str) -> tuple[float, int]:
    """(seconds, Spark jobs) of ``run`` under job group ``group``."""
    spark.sparkContext.setJobGroup(group, group)
    began = time.perf_counter()
    try:
        run()
    finally:
        seconds = time.perf_counter() - began
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    return seconds, jobs_in(spark, group)


def sequential(spark: SparkSession, ws: Workspace, phase: str) -> dict[str, tuple[float, int]]:
    out = {}
    for name in view_names():
        out[name] = timed_run(spark, lambda n=name: pipeline.materialize(spark, ws, n), f"{phase}-{name}")  # type: ignore[misc]
        log(f"{phase} {name}: {out[name][0]:.2f}s, {out[name][1]} jobs")
    return out


def stats(runs: dict[str, tuple[float, int]], prefix: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for kind in ("plain", "agg", ""):
        picked = [v for k, v in runs.items() if k.startswith(kind)]
        tag = f"_{kind}" if kind else ""
        result[f"{prefix}_s_per_view{tag}"] = round(statistics.mean(s for s, _ in picked), 2)
        result[f"{prefix}_jobs_per_view{tag}"] = round(statistics.mean(j for _, j in picked), 1)
    result[f"{prefix}_total_s"] = round(sum(s for s, _ in runs.values()), 2)
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sparkfs-bench-many-") as tmp:
        root = Path(tmp)
        config = load_config(write_project(root))
        ws = Workspace.open(config, user="bench")
        ws.definitions.apply(ws.repository, user="bench")
        spark = build_session(config)
        spark.sparkContext.setLogLevel("ERROR")
        log(f"writing {VIEWS} sources of {ROWS:,} rows (not timed)")
        write_sources(spark, root / "data")
        first = sequential(spark, ws, "first")
        warm = sequential(spark, ws, "warm")
        figures: dict[str, Any] = {"views": VIEWS, "rows_per_view": ROWS}
        figures |= stats(first, "first") | stats(warm, "warm")
        one = statistics.median(s for s, _ in warm.values())
        log(f"all {VIEWS} views together (materialize_all)")
        plans = [pipeline.plan_materialize(ws, name) for name in view_names()]
        outcomes: dict[str, Any] = {}
        seconds, jobs = timed_run(spark, lambda: outcomes.update(pipeline.materialize_all(spark, ws, plans)), "all")
        failed = {name: out for name, out in outcomes.items() if isinstance(out, Exception)}
        assert not failed, failed
        log(f"all together: {seconds:.1f}s ({jobs} jobs)")
        figures["all_concurrent_s"] = round(seconds, 2)
        figures["all_concurrent_jobs"] = jobs
        figures["all_concurrent_vs_sequential_warm"] = round(seconds / figures["warm_total_s"], 2)
        figures["warm_median_s"] = round(one, 2)
        figures["all_concurrent_over_one_view"] = round(seconds / one, 2)
        figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
        spark.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
