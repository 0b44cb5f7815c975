"""Build (or reproduce) a point-in-time training set (docs/point-in-time.md).

    ./spark-submit.sh training_set --spine PATH (--features v:f ... | --feature-service NAME) --out PATH
    ./spark-submit.sh training_set --reproduce ID --out PATH
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jobs._bootstrap import print_result, run_job
from sparkfs.pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spine", default=None, help="spine path (Delta, Parquet or .csv)")
    parser.add_argument("--features", nargs="*", default=None, help="view:feature or view:*")
    parser.add_argument("--feature-service", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--format", default="parquet", choices=["parquet", "delta"])
    parser.add_argument("--timestamp-column", default="event_timestamp")
    parser.add_argument("--reproduce", default=None, metavar="ID", help="rebuild a recorded training set")
    parser.add_argument("--user", default=None)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what --out holds even if sparkfs did not write a training set there")


def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
    from sparkfs.pipeline.training_sets import reproduce_training_set, write_training_set

    ws = Workspace.open(config, user=args.user)
    if args.reproduce:
        record = reproduce_training_set(spark, ws, args.reproduce, args.out, args.format,
                                        overwrite=args.overwrite)
    else:
        if not args.spine:
            raise SystemExit("training_set: --spine is required unless --reproduce is given")
        record = write_training_set(
            spark, ws, spine_path=args.spine, out=args.out, features=args.features,
            feature_service=args.feature_service, fmt=args.format, timestamp_column=args.timestamp_column,
            overwrite=args.overwrite,
        )
    print_result({"id": record.id, "out": args.out, "table_versions": record.table_versions})
    return 0


if __name__ == "__main__":
    run_job(main, add_args, description=__doc__.splitlines()[0] if __doc__ else None)
