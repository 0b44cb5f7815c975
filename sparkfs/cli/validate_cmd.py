"""``sparkfs validate``: run a feature view's quality gates as a dry run."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sparkfs.cli.context import CliContext
from sparkfs.pipeline.workspace import Workspace

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
    from sparkfs.pipeline.validation import check_range, raise_if_blocked, validate_range

    check_range(start, end)
    ws = Workspace(config=state.config, repository=state.repository, engine=state.engine, user=state.user)
    view = ws.repository.feature_view(feature_view)
    if not view.expectations:
        click.echo(f"feature view {view.name!r} declares no expectations; nothing to check.")
        return
    report = validate_range(state.spark, ws, view.name, _utc(start), _utc(end))
    assert report is not None
    click.echo(report.render())
    raise_if_blocked(report)
