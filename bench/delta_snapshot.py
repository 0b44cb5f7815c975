"""Benchmark: Delta's snapshot partitions, sparkfs' setting (4) against Delta's default (50).

Delta replays a table's log into ``spark.databricks.delta.snapshotPartitions`` partitions when a
query first loads the table, and every later query's file listing scans those cached
partitions. Three fresh 1M-row tables (8 files each, as a materialization writes them) are
written; each is then read twice (a sum over one column): the first read loads the snapshot,
the second reuses it. Both settings run in the same process, alternating table by table, after
one untimed warm-up table. Progress goes to stderr; the last stdout line is one JSON object
(keys in bench/README.md).

Run: ``PYTHONPATH=. python bench/delta_snapshot.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.session import BASE_SPARK_CONF

ROWS, TABLES = 1_000_000, 3
SETTINGS = {"sparkfs": BASE_SPARK_CONF["spark.databricks.delta.snapshotPartitions"],
            "delta_default": "50"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed_read(spark: SparkSession, path: str) -> float:
    t0 = time.perf_counter()
    spark.read.format("delta").load(path).agg(F.sum("v")).collect()
    return time.perf_counter() - t0


def main() -> None:
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-bench-delta-snapshot")
    for key, value in {**BASE_SPARK_CONF, "spark.ui.enabled": "false",
                       "spark.ui.showConsoleProgress": "false",
                       "spark.sql.shuffle.partitions": "8"}.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    root = Path(tempfile.mkdtemp(prefix="sparkfs-bench-snapshot-"))
    first: dict[str, list[float]] = {name: [] for name in SETTINGS}
    again: dict[str, list[float]] = {name: [] for name in SETTINGS}
    try:
        for i in range(TABLES + 1):
            for name, partitions in SETTINGS.items():
                spark.conf.set("spark.databricks.delta.snapshotPartitions", partitions)
                path = str(root / f"{name}_{i}")
                spark.range(ROWS).select(F.col("id"), (F.col("id") % 97).alias("v")) \
                    .repartition(8).write.format("delta").save(path)
                a, b = timed_read(spark, path), timed_read(spark, path)
                if i == 0:
                    log(f"warm-up table ({name}): {a:.2f} s / {b:.2f} s (not counted)")
                    continue
                first[name].append(a)
                again[name].append(b)
                log(f"table {i} ({name}, {partitions} partitions): first read {a:.2f} s, "
                    f"repeated scan {b:.2f} s")
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)
    out: dict[str, object] = {"rows": ROWS, "tables": TABLES,
                              "sparkfs_partitions": int(SETTINGS["sparkfs"])}
    for name in SETTINGS:
        out[f"first_read_s_{name}"] = round(statistics.median(first[name]), 3)
        out[f"repeated_scan_s_{name}"] = round(statistics.median(again[name]), 3)
    out["first_read_speedup"] = round(statistics.median(first["delta_default"])
                                      / statistics.median(first["sparkfs"]), 2)
    out["repeated_scan_speedup"] = round(statistics.median(again["delta_default"])
                                         / statistics.median(again["sparkfs"]), 2)
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
