"""Materialize or backfill one feature view (docs/offline-store.md).

    ./spark-submit.sh materialize --view user_profile [--start 2024-01-01 --end 2024-02-01 [--step 7d]] [--sandbox]

With --start/--end and --step, runs a chunked, resumable backfill; with --start/--end alone,
replaces exactly that range; with neither, runs incrementally. Prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from jobs._bootstrap import executor_task_counts, print_result, run_job
from sparkfs.durations import parse_duration
from sparkfs.pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--view", required=True, help="feature view name")
    parser.add_argument("--start", default=None, help="first event date YYYY-MM-DD (inclusive)")
    parser.add_argument("--end", default=None, help="last event date YYYY-MM-DD (exclusive)")
    parser.add_argument("--step", default=None, help="backfill in chunks of this many days (e.g. 7d)")
    parser.add_argument("--sandbox", action="store_true", help="sandbox namespace")
    parser.add_argument("--user", default=None, help="acting user (default $SPARKFS_USER)")


def _day(value: str | None) -> object:
    return datetime.strptime(value, "%Y-%m-%d").date() if value else None


def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
    from sparkfs.pipeline.materialize import backfill, materialize

    ws = Workspace.open(config, user=args.user, namespace="sandbox" if args.sandbox else "production")
    start, end = _day(args.start), _day(args.end)
    if args.step:
        result = backfill(
            spark, ws, args.view, start, end, step=parse_duration(args.step),  # type: ignore[arg-type]
            on_progress=lambda d, t, r: print(f"chunk {d}/{t} done, {r} rows written", file=sys.stderr, flush=True),
        )
        runs = result.runs
        out: dict[str, int | None] = {"chunks": result.chunks_total, "skipped": result.chunks_skipped, "rows_written": result.rows_written}
    else:
        run = materialize(spark, ws, args.view, start=start, end=end)  # type: ignore[arg-type]
        runs = [run]
        out = {"rows_in": run.rows_in, "rows_written": run.rows_out, "table_version": run.output_version}
    print_result({
        **out, "view": args.view, "runs": [r.run_id for r in runs], "master": spark.sparkContext.master,
        "executor_tasks": executor_task_counts(spark),
    })
    return 0


if __name__ == "__main__":
    run_job(main, add_args, description=__doc__.splitlines()[0] if __doc__ else None)
