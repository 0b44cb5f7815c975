"""``sparkfs validate``: run a feature view's quality gates as a dry run."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sparkfs.cli.context import CliContext
from sparkfs.definitions import definition_version
from sparkfs.errors import QualityGateError, ValidationError
from sparkfs.workspace import Workspace

__all__ = ["validate_cmd"]

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


@click.command("validate")
@click.argument("feature_view")
@click.option("--start", type=_DATE, default=None, help="First event date to check (YYYY-MM-DD).")
@click.option("--end", type=_DATE, default=None, help="End event date, exclusive (YYYY-MM-DD).")
@click.pass_obj
def validate_cmd(state: CliContext, feature_view: str, start: datetime | None, end: datetime | None) -> None:
    """Check FEATURE_VIEW's expectations on what materialize would write, writing nothing.

    Computes the batch for [--start, --end) (default: the whole source), evaluates every
    expectation in one Spark pass, prints the report and records it as a `validate` run.
    Exits 1 when an error-severity expectation fails. The feature table, the quarantine table
    and the incremental watermark are not touched, and the version need not be approved.
    """
    from sparkfs.offline.materialize import _batch
    from sparkfs.offline.source import read_source
    from sparkfs.quality.check import check_batch

    if (start is None) != (end is None):
        raise ValidationError("give both --start and --end, or neither (the whole source)")
    if start is not None and end is not None and start >= end:
        raise ValidationError(f"--start {start.date()} must be before --end {end.date()} (end is exclusive)")
    ws = Workspace(config=state.config, repository=state.repository, engine=state.engine, user=state.user)
    view = ws.repository.feature_view(feature_view)
    if not view.expectations:
        click.echo(f"feature view {view.name!r} declares no expectations; nothing to check.")
        return
    version = definition_version(view)
    spark = state.spark
    run_id = ws.runs.start("validate", user=ws.user, feature_view=view.name, version=version,
                           namespace=ws.namespace, range_start=_utc(start), range_end=_utc(end),
                           spark_app_id=spark.sparkContext.applicationId)
    try:
        source = read_source(spark, view, ws.config.data_dir)
        batch, _, _ = _batch(spark, ws, view, source, _utc(start), _utc(end))
        report = check_batch(ws, view, version, batch, run_id)
    except BaseException as exc:
        ws.runs.finish(run_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    failed = ", ".join(r.label for r in report.blocking)
    ws.runs.finish(run_id, status="succeeded" if report.passed else "failed", rows_in=report.rows,
                   error=f"quality gate failed: {failed}" if failed else None)
    click.echo(report.render())
    if not report.passed:
        raise QualityGateError(
            f"{len(report.blocking)} error-severity expectation(s) failed ({failed}); see the report above. "
            "This was a dry run: nothing was written."
        )
