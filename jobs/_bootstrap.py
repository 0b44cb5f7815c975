"""What every job does before and after its own work.

A job module defines ``main(spark, config, args) -> int`` and an ``add_args(parser)`` for its own
options, then calls :func:`run_job`. ``run_job`` adds the common ``--config`` option, loads the
config, builds the session, stops it afterwards and turns a :class:`~sparkfs.errors.SparkfsError`
into one paragraph on stderr and its exit code, so an operator reads a sentence, not a stack trace.

::

    def main(spark: SparkSession, config: SparkfsConfig, args: argparse.Namespace) -> int:
        ...
        return 0

    if __name__ == "__main__":
        run_job(main, add_args, description="What the job does.")
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from sparkfs.config import default_config_path, load_config
from sparkfs.errors import SparkfsError
from sparkfs.session import build_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig

__all__ = [
    "JobMain",
    "build_parser",
    "executor_task_counts",
    "print_result",
    "resolve_config_path",
    "run_job",
]

JobMain = Callable[["SparkSession", "SparkfsConfig", argparse.Namespace], int]
AddArgs = Callable[[argparse.ArgumentParser], None]


def build_parser(
    prog: str, add_args: AddArgs | None = None, description: str | None = None
) -> argparse.ArgumentParser:
    """The job's parser: the common ``--config`` plus whatever ``add_args`` adds."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config",
        default=None,
        help="sparkfs config file (default: $SPARKFS_CONFIG, else conf/sparkfs.yaml)",
    )
    if add_args is not None:
        add_args(parser)
    return parser


def resolve_config_path(path: str | None) -> Path:
    """The config file to load, also when it was shipped with ``--files``.

    In cluster deploy mode the driver runs on a cluster node where the submitting machine's path
    does not exist, but ``spark-submit --files`` put a copy under its base name in the driver's
    working directory; use that copy when the given path is missing.
    """
    cfg = Path(path) if path else default_config_path()
    if not cfg.is_file() and Path(cfg.name).is_file():
        return Path(cfg.name)
    return cfg


def executor_task_counts(spark: SparkSession) -> dict[str, int]:
    """Tasks run so far per executor id (``driver`` in local mode), from Spark's status store.

    A job prints it so that a run on a cluster can be checked to have used separate executors.
    """
    # The status store is the data behind the UI's Executors tab; it is there with the UI off.
    summaries = spark.sparkContext._jsc.sc().statusStore().executorList(False)
    counts = {}
    for i in range(summaries.size()):
        item = summaries.apply(i)
        counts[str(item.id())] = int(item.totalTasks())
    return counts


def print_result(result: dict[str, object]) -> None:
    """Print a job's figures as ONE JSON line on stdout, for scripts and tests to read."""
    print(json.dumps(result, sort_keys=True, default=str), flush=True)


def _error_paragraph(prog: str, exc: SparkfsError) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{prog}: {type(exc).__name__}: {text}"


def run_job(
    main: JobMain,
    add_args: AddArgs | None = None,
    *,
    description: str | None = None,
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """Parse arguments, load the config, build the session, run ``main`` and exit with its code.

    Args:
        main: the job's work; returns the process exit code.
        add_args: adds the job's own options to the parser.
        description: shown by ``--help``.
        argv: arguments without the program name (default: ``sys.argv[1:]``).
    """
    prog = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "sparkfs-job"
    args = build_parser(prog, add_args, description).parse_args(argv)
    try:
        config = load_config(resolve_config_path(args.config))
        spark = build_session(config)
        try:
            code = main(spark, config, args)
        finally:
            spark.stop()
    except SparkfsError as exc:
        print(_error_paragraph(prog, exc), file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    sys.exit(code)
