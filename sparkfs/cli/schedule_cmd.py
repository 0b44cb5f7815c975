"""``sparkfs schedule airflow|cron``: scheduled materialize -> quality gate -> sync runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sparkfs.cli.context import CliContext
from sparkfs.config import default_config_path
from sparkfs.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from sparkfs.scheduling.plan import SchedulePlan

__all__ = ["schedule_group"]


def _online_views(state: CliContext, names: tuple[str, ...]) -> list[str]:
    online = sorted(n for n, v in state.repository.feature_views.items() if v.online)
    for name in names:
        view = state.repository.feature_view(name)  # NotFoundError names the known ones
        if not view.online:
            raise ValidationError(f"feature view {name!r} is offline-only (online: false): there is "
                                  "nothing to sync; schedule `sparkfs backfill` for it instead")
    chosen = list(names) or online
    if not chosen:
        raise NotFoundError("the repository has no online feature views (online: true) to schedule")
    return chosen


def _plan(state: CliContext, repo: Path | None, schedule: str, start_date: str | None = None,
          conn_id: str = "spark_default", code_zip: Path | None = None) -> SchedulePlan:
    from sparkfs.scheduling.plan import SchedulePlan, find_repo

    start = None
    if start_date is not None:
        try:
            start = datetime.strptime(start_date, "%Y-%m-%d").date()
        except ValueError:
            raise ValidationError(f"--start-date {start_date!r} is not a date; write YYYY-MM-DD") from None
    state.config  # noqa: B018  a broken config fails here, naming its file and field
    config = (state.config_path or default_config_path()).resolve()
    found = find_repo(repo)
    return SchedulePlan(repo=found, config=config, schedule=schedule, start_date=start, conn_id=conn_id,
                        code_zip=(code_zip or found / "build" / "sparkfs-code.zip").resolve())


_views = click.argument("views", nargs=-1, metavar="[VIEW]...")
_repo = click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="The sparkfs checkout (jobs/, spark-submit.sh) on the scheduler's host. "
                          "Default: the one this sparkfs runs from.")
_schedule = click.option("--schedule", type=click.Choice(["@daily", "@weekly", "@monthly"]), default="@daily",
                         show_default=True, help="How often; each run covers the interval that just ended.")


@click.group("schedule")
def schedule_group() -> None:
    """Run the online feature views on a schedule: Airflow DAGs or a crontab.

    Each view's run materializes the interval that just ended, checks its expectations on
    that interval (`validate`) and syncs the view to the online store. docs/scheduling.md.
    """


@schedule_group.command("airflow")
@_views
@click.option("--out", type=click.Path(path_type=Path), default=Path("dags"), show_default=True,
              help="Directory for the DAG files (your Airflow dags folder).")
@_repo
@_schedule
@click.option("--start-date", default=None, metavar="YYYY-MM-DD",
              help="The first data interval (catch-up runs every interval since). Default: today (UTC).")
@click.option("--conn-id", default="spark_default", show_default=True,
              help="The Airflow Spark connection: its host is the master (yarn, spark://..., local[*]).")
@click.option("--code-zip", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write sparkfs/ and jobs/ zipped for --py-files. Default: REPO/build/sparkfs-code.zip.")
@click.option("--overwrite", is_flag=True, help="Replace existing files even if this command did not write them.")
@click.pass_obj
def airflow_cmd(state: CliContext, views: tuple[str, ...], out: Path, repo: Path | None, schedule: str,
                start_date: str | None, conn_id: str, code_zip: Path | None, overwrite: bool) -> None:
    """Write one Airflow DAG per online feature view (default: all of them) into --out.

    Tasks: materialize >> quality_gate >> sync, each a SparkSubmitOperator running a jobs/
    entry point as spark-submit.sh does. catchup=True (reruns are idempotent),
    max_active_runs=1. Needs apache-airflow-providers-apache-spark where Airflow runs.
    """
    from sparkfs.scheduling.airflow import write_dags
    from sparkfs.scheduling.plan import build_code_zip

    plan = _plan(state, repo, schedule, start_date, conn_id, code_zip)
    assert plan.code_zip is not None
    written = write_dags(_online_views(state, views), out, plan, overwrite=overwrite)
    build_code_zip(plan.repo, plan.code_zip)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"wrote {plan.code_zip} (sparkfs/ and jobs/ for --py-files; rerun this command after "
               "upgrading sparkfs)")


@schedule_group.command("cron")
@_views
@_repo
@_schedule
@click.option("--log-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Logs and lock files, one per view. Default: REPO/.sparkfs/logs.")
@click.pass_obj
def cron_cmd(state: CliContext, views: tuple[str, ...], repo: Path | None, schedule: str,
             log_dir: Path | None) -> None:
    """Print a crontab running each online feature view's materialize -> validate -> sync_online
    with ./spark-submit.sh (default: all online views). Install it with `crontab`."""
    from sparkfs.scheduling.cron import render_crontab
    plan = _plan(state, repo, schedule)
    click.echo(render_crontab(_online_views(state, views), plan,
                              (log_dir or plan.repo / ".sparkfs" / "logs").resolve()), nl=False)
