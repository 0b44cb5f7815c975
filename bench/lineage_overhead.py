"""Benchmark: what recording lineage costs a materialization.

The same workload as bench/materialize.py (synthetic events: ~50k users, 30 days, ``amount``;
count/sum/avg over 1h/1d/7d/30d at hour grain), but through the pipeline's ``materialize`` of a
feature view, as production runs it: source read, quality gate, Delta write, run recording.
Two measurements in the same process:

* **instrumented**: the wall time spent inside the lineage code (the recorder's start and
  finish, the ``note_*`` calls) as a share of each run;
* **A/B**: median run time with lineage recording, and with the recorder and notes replaced by
  no-ops (interleaved runs, so drift hits both alike).

Run: ``PYTHONPATH=. python bench/lineage_overhead.py [--rows 1000000] [--repeats 3]``. Progress
goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import sparkfs.lineage.recorder as recorder_module
import sparkfs.pipeline.materialize as materialize_module
import sparkfs.pipeline.runs as runs_module
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.workspace import Workspace
from sparkfs.session import BASE_SPARK_CONF

BASE = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 30
VIEW = """entities:
  - name: user
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: user_txn_aggs
    entities: [user]
    source: {type: delta, path: events}
    timestamp_column: ts
    aggregations:
      grain: hour
      windows: [1h, 1d, 7d, 30d]
      features:
        - {name: txn_count, function: count, column: amount}
        - {name: txn_amount_sum, function: sum, column: amount}
        - {name: txn_amount_avg, function: avg, column: amount}
    owner: bench@example.com
    expectations:
      - {type: not_null, column: user_id}
"""
NOTES = ("note_source", "note_window", "note_table_written", "note_quality")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_spark() -> SparkSession:
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-bench-lineage")
    conf = {**BASE_SPARK_CONF, "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8",
            "spark.driver.memory": "3g"}
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def project(root: Path, spark: SparkSession, rows: int) -> Workspace:
    (root / "conf" / "features").mkdir(parents=True)
    (root / "conf" / "features" / "view.yaml").write_text(VIEW)
    (root / "conf" / "sparkfs.yaml").write_text(
        "project: bench\ndata_dir: ../data\noffline: {root: ../offline, sandbox_root: ../sandbox}\n"
        "registry: {url: 'sqlite:///../registry.db'}\n")
    users = max(rows // 20, 1)
    events = spark.range(rows).select(
        (F.col("id") % users + 1).alias("user_id"),
        (F.lit(int(BASE.timestamp())) + (F.col("id") * 7919) % (DAYS * 86400)).cast("timestamp").alias("ts"),
        ((F.col("id") * 31) % 10000 / 100.0).alias("amount"))
    events.write.format("delta").save(str(root / "data" / "events"))
    workspace = Workspace.open(str(root / "conf" / "sparkfs.yaml"), user="bench")
    workspace.definitions.apply(workspace.repository, user="bench")
    return workspace


class _Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


class _NoRecorder:
    lineage: Any = None

    def finish(self, **_: Any) -> None:
        return None


@contextmanager
def patched(module: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def run_once(spark: SparkSession, workspace: Workspace, mode: str) -> tuple[float, float]:
    """(run seconds, seconds inside lineage code) of one full materialization."""
    timer = _Timer()
    cls = recorder_module.RunLineageRecorder
    with (patched(runs_module, "_lineage_recorder", timer.wrap(runs_module._lineage_recorder)
                  if mode == "on" else (lambda *a, **k: _NoRecorder())),
          patched(cls, "finish", timer.wrap(cls.finish))):
        stack = [patched(materialize_module, n, timer.wrap(getattr(materialize_module, n)) if mode == "on"
                         else (lambda *a, **k: None)) for n in NOTES]
        for item in stack:
            item.__enter__()
        try:
            started = time.perf_counter()
            materialize(spark, workspace, "user_txn_aggs")
            return time.perf_counter() - started, timer.seconds
        finally:
            for item in reversed(stack):
                item.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spark = build_spark()
    with tempfile.TemporaryDirectory(prefix="sparkfs-bench-lineage-") as tmp:
        workspace = project(Path(tmp), spark, args.rows)
        log(f"warm-up run ({args.rows} events)")
        run_once(spark, workspace, "on")
        on, off, inside = [], [], []
        for i in range(args.repeats):
            for mode in ("on", "off") if i % 2 == 0 else ("off", "on"):
                seconds, lineage_s = run_once(spark, workspace, mode)
                (on if mode == "on" else off).append(seconds)
                if mode == "on":
                    inside.append(lineage_s / seconds)
                log(f"repeat {i + 1} lineage {mode}: {seconds:.2f} s (in lineage code {lineage_s:.3f} s)")
    result = {
        "rows": args.rows, "repeats": args.repeats,
        "median_s_with_lineage": round(statistics.median(on), 3),
        "median_s_without_lineage": round(statistics.median(off), 3),
        "ab_overhead_pct": round(100 * (statistics.median(on) / statistics.median(off) - 1), 2),
        "instrumented_share_pct": round(100 * statistics.median(inside), 2),
    }
    spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
