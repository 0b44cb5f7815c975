"""``sparkfs materialize`` and ``sparkfs backfill``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click

from sparkfs.cli.context import CliContext
from sparkfs.durations import parse_duration
from sparkfs.errors import ValidationError

__all__ = ["backfill_cmd", "materialize_cmd"]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def _checked(state: CliContext, sandbox: bool, feature_view: str, lo: date | None,
             hi: date | None) -> None:
    """Everything that can be checked without Spark, before a session starts (10-20 s)."""
    if lo is not None and hi is not None and lo >= hi:
        raise ValidationError(f"--start {lo} is not before --end {hi}; the range is [start, end)")
    state.workspace(sandbox).repository.feature_view(feature_view)  # NotFoundError names the known ones


_sandbox = click.option("--sandbox", is_flag=True, help="Run the repository's (possibly unapproved) version in the sandbox namespace; production tables are untouched.")


@click.command("materialize")
@click.argument("feature_view")
@click.option("--start", default=None, metavar="YYYY-MM-DD", help="First event date to (re)compute (inclusive).")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="Last event date, exclusive.")
@_sandbox
@click.pass_obj
def materialize_cmd(state: CliContext, feature_view: str, start: str | None, end: str | None, sandbox: bool) -> None:
    """Compute FEATURE_VIEW into its Delta table.

    With --start/--end the event dates [start, end) are replaced exactly (rerunning gives the
    same rows). Without them the run is incremental: it continues from the last watermark and
    upserts rows that arrived late (within the view's late_arrival).
    """
    from sparkfs.pipeline.materialize import materialize

    lo, hi = _date(start, "--start"), _date(end, "--end")
    _checked(state, sandbox, feature_view, lo, hi)
    ws = state.workspace(sandbox)
    click.echo(f"materializing {feature_view} ({ws.namespace}) ...", err=True)
    run = materialize(state.spark, ws, feature_view, start=lo, end=hi, gate=state.quality_gate())
    click.echo(
        f"run {run.run_id} {run.status}: {run.rows_in} rows in, {run.rows_out} rows written, "
        f"table version {run.output_version}, {run.duration_s:.1f}s"
    )


@click.command("backfill")
@click.argument("feature_view")
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First event date (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last event date (exclusive).")
@click.option("--step", default="7d", show_default=True, help="Chunk size in whole days (e.g. 1d, 7d).")
@_sandbox
@click.pass_obj
def backfill_cmd(state: CliContext, feature_view: str, start: str, end: str, step: str, sandbox: bool) -> None:
    """Recompute FEATURE_VIEW over [start, end) in chunks of --step days.

    Each finished chunk is recorded in the registry; rerunning after a crash skips the chunks
    already done. Each chunk replaces exactly its dates, so reruns never duplicate rows.
    """
    from sparkfs.pipeline.materialize import backfill

    try:
        step_td = parse_duration(step)
    except ValueError as exc:
        raise ValidationError(f"--step: {exc}") from None
    if step_td < timedelta(days=1) or step_td % timedelta(days=1):
        raise ValidationError(f"--step {step!r} is not a positive whole number of days; "
                              "write e.g. 1d or 7d")
    lo, hi = _date(start, "--start"), _date(end, "--end")
    assert lo is not None and hi is not None
    _checked(state, sandbox, feature_view, lo, hi)

    def progress(done: int, total: int, rows: int) -> None:
        click.echo(f"  chunk {done}/{total} done, {rows} rows written so far", err=True)

    result = backfill(state.spark, state.workspace(sandbox), feature_view, lo, hi, step=step_td,
                      gate=state.quality_gate(), on_progress=progress)
    click.echo(
        f"backfill of {feature_view} {start}..{end}: {result.chunks_total} chunks, "
        f"{result.chunks_skipped} already done, {len(result.runs)} run, {result.rows_written} rows written"
    )
