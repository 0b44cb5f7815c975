"""Check a feature view's expectations over a range without writing (``sparkfs validate``).

    ./spark-submit.sh validate --view user_profile [--start 2024-01-01 --end 2024-01-02] [--sandbox]

The quality-gate step of a scheduled run (docs/scheduling.md): computes the batch materialize
writes for [start, end), evaluates every expectation in one pass, records a ``validate`` run and
exits 1 when an error-severity expectation fails. Prints the report on stderr and one JSON line.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobs._bootstrap import print_result, run_job
from sparkfs.errors import ValidationError
from sparkfs.pipeline.validation import raise_if_blocked, validate_range
from sparkfs.pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--view", required=True, help="feature view name")
    parser.add_argument("--start", default=None, help="first event date YYYY-MM-DD (inclusive)")
    parser.add_argument("--end", default=None, help="last event date YYYY-MM-DD (exclusive)")
    parser.add_argument("--sandbox", action="store_true", help="sandbox namespace")
    parser.add_argument("--user", default=None, help="acting user (default $SPARKFS_USER)")


def _moment(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
    ws = Workspace.open(config, user=args.user, namespace="sandbox" if args.sandbox else "production")
    report = validate_range(spark, ws, args.view, _moment(args.start, "--start"), _moment(args.end, "--end"))
    if report is None:
        print_result({"view": args.view, "checked": False, "passed": True})
        return 0
    print(report.render(), file=sys.stderr, flush=True)
    print_result({"view": args.view, "checked": True, "passed": report.passed, "run": report.run_id,
                  "rows": report.rows})
    raise_if_blocked(report)
    return 0


if __name__ == "__main__":
    run_job(main, add_args, description=__doc__.splitlines()[0] if __doc__ else None)
