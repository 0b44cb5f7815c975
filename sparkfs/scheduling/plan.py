"""What a scheduled run of one feature view does, independent of the scheduler."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sparkfs.errors import ValidationError

__all__ = ["PRESETS", "SPARK_CONF", "SchedulePlan", "Step", "build_code_zip", "find_repo", "view_steps"]

#: Schedules whose data intervals are whole UTC days (the jobs take dates), with the cron
#: expression Airflow's preset stands for.
PRESETS = {"@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}

#: What spark-submit.sh passes with --conf (Delta, UTC, and SPARKFS_SUBMITTED for the driver and
#: executors on every master: the session then leaves master and packages to spark-submit).
SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.executorEnv.SPARKFS_SUBMITTED": "1",
    "spark.yarn.appMasterEnv.SPARKFS_SUBMITTED": "1",
    "spark.kubernetes.driverEnv.SPARKFS_SUBMITTED": "1",
}


@dataclass(frozen=True)
class Step:
    """One task: a ``jobs/`` entry point and its arguments (``--config`` comes first, added by
    the renderer); ``interval`` steps also get ``--start START --end END``."""

    task_id: str
    job: str
    args: tuple[str, ...]
    interval: bool


def view_steps(view: str) -> list[Step]:
    """materialize -> quality_gate -> sync, each waiting for the one before to succeed.

    materialize replaces exactly the interval's event dates (a rerun or a catch-up is
    idempotent); quality_gate re-checks the view's expectations on the interval as a dry run
    (``sparkfs validate``) so nothing reaches the online store past a visible failed check;
    sync is incremental and holds the view's lease, so overlapping syncs cannot interleave.
    """
    return [
        Step("materialize", "materialize", ("--view", view), interval=True),
        Step("quality_gate", "validate", ("--view", view), interval=True),
        Step("sync", "sync_online", ("--view", view), interval=False),
    ]


@dataclass(frozen=True)
class SchedulePlan:
    """Where things are on the scheduler's host, and when runs happen."""

    repo: Path  #: the sparkfs checkout holding jobs/ and spark-submit.sh
    config: Path  #: the sparkfs config every job reads (absolute)
    schedule: str = "@daily"
    start_date: date | None = None
    conn_id: str = "spark_default"
    code_zip: Path | None = None  #: sparkfs/ and jobs/ zipped, for --py-files

    def __post_init__(self) -> None:
        if self.schedule not in PRESETS:
            raise ValidationError(f"--schedule {self.schedule!r}: use one of {', '.join(PRESETS)}; the jobs "
                                  "take whole UTC days, so shorter intervals cannot be passed to them")

    def job(self, name: str) -> Path:
        return self.repo / "jobs" / f"{name}.py"


def find_repo(given: Path | None) -> Path:
    """The checkout holding jobs/ and spark-submit.sh: ``given``, else the one sparkfs runs from."""
    repo = (given or Path(__file__).resolve().parents[2]).resolve()
    missing = [p for p in ("jobs/materialize.py", "jobs/validate.py", "jobs/sync_online.py", "spark-submit.sh")
               if not (repo / p).is_file()]
    if missing:
        raise ValidationError(f"{repo} is not a sparkfs checkout (no {', '.join(missing)}); pass --repo DIR, "
                              "the checkout the scheduler's host runs the jobs from")
    return repo


def build_code_zip(repo: Path, out: Path) -> Path:
    """sparkfs/ and jobs/ as one zip for ``--py-files``, like spark-submit.sh builds per run."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in ("sparkfs", "jobs"):
            for path in sorted((repo / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
                    zf.write(path, path.relative_to(repo).as_posix())
    return out
