"""Sync online feature views from their Delta tables to Redis (docs/online-store.md).

    ./spark-submit.sh sync_online [--view NAME ...] [--full] [--sandbox]

Writes happen on the executors in pipelined batches; prints one JSON line per run.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jobs._bootstrap import executor_task_counts, print_result, run_job
from sparkfs.pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--view", action="append", default=None, help="feature view (repeatable; default all online views)")
    parser.add_argument("--full", action="store_true", help="full refresh into a new generation")
    parser.add_argument("--sandbox", action="store_true", help="sandbox tables and keys")
    parser.add_argument("--user", default=None)


def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
    from sparkfs.pipeline.sync import sync_online

    ws = Workspace.open(config, user=args.user, namespace="sandbox" if args.sandbox else "production")
    results = sync_online(spark, ws, args.view, full=args.full)
    print_result({
        "views": {r.view_name: {"mode": r.mode, "entities_written": r.entities_written,
                                "delta_version": r.to_delta_version, "seconds": round(r.duration_s, 2)}
                  for r in results},
        "executor_tasks": executor_task_counts(spark),
    })
    return 0


if __name__ == "__main__":
    run_job(main, add_args, description=__doc__.splitlines()[0] if __doc__ else None)
