"""Generate the demo data set (docs/demo-data.md) as Delta tables.

    ./spark-submit.sh generate_demo --rows 100000 [--seed 42] [--out DIR] [--partitions N]

Prints one JSON line: the table paths and row counts, the seconds taken, and the tasks each
executor ran (``executors``), which shows whether the work really ran on the cluster.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from jobs._bootstrap import executor_task_counts, print_result, run_job
from sparkfs.demo.generate import generate_demo_data
from sparkfs.pipeline.outputs import protected_locations

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000, help="distinct transactions")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same rows")
    parser.add_argument("--out", default=None, help="output directory (default: <data_dir>/demo)")
    parser.add_argument(
        "--partitions", type=int, default=None, help="input partitions (default parallelism)"
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what --out holds even if it is not an earlier demo")


def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
    out = args.out or f"{config.data_dir.rstrip('/')}/demo"
    started = time.monotonic()
    summary = generate_demo_data(
        spark, out, rows=args.rows, seed=args.seed, partitions=args.partitions,
        overwrite=args.overwrite, protected=protected_locations(config, sources=False),
    )
    tasks = executor_task_counts(spark)
    print_result(
        {
            **asdict(summary),
            "seconds": round(time.monotonic() - started, 2),
            "master": spark.sparkContext.master,
            "executors": {k: v for k, v in tasks.items() if k != "driver"},
            "executor_tasks": tasks,
        }
    )
    return 0


if __name__ == "__main__":
    run_job(main, add_args, description=__doc__.splitlines()[0] if __doc__ else None)
