"""``sparkfs materialize`` and ``sparkfs backfill``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import click

from sparkfs.cli.context import CliContext
from sparkfs.control_chars import escape_control
from sparkfs.durations import parse_duration
from sparkfs.errors import SparkfsError, ValidationError
from sparkfs.pipeline.concurrency import DEFAULT_CONCURRENCY

if TYPE_CHECKING:
    from sparkfs.pipeline.materialize import MaterializePlan
    from sparkfs.registry.runs import RunRecord

__all__ = ["backfill_cmd", "materialize_cmd"]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(f"{option} {value!r} is not a date; write YYYY-MM-DD") from None


def _views(state: CliContext, sandbox: bool, names: tuple[str, ...], every: bool) -> list[str]:
    """The views a command runs: the ones named, or with --all every view of the repository."""
    if every and names:
        raise ValidationError("name feature views or give --all, not both")
    if not every and not names:
        raise ValidationError("name a feature view (or several), or give --all")
    repository = state.workspace(sandbox).repository
    chosen = sorted(repository.feature_views) if every else list(dict.fromkeys(names))
    for name in chosen:
        repository.feature_view(name)  # NotFoundError names the known ones
    if not chosen:
        raise ValidationError("the repository declares no feature views")
    return chosen


def _plans(state: CliContext, sandbox: bool, views: list[str], lo: date | None, hi: date | None,
           job: str = "materialize") -> list[MaterializePlan]:
    """Everything that can be checked without Spark, before a session starts (10-20 s): the
    range, the views, governance (applied, approved) and each run's write mode."""
    from sparkfs.pipeline.materialize import plan_materialize

    if lo is not None and hi is not None and lo >= hi:
        raise ValidationError(f"--start {lo} is not before --end {hi}; the range is [start, end)")
    ws = state.workspace(sandbox)
    return [plan_materialize(ws, name, start=lo, end=hi, job=job) for name in views]


def _report(outcomes: Mapping[str, object]) -> None:
    """Exit non-zero naming every view that failed (each was reported as it finished)."""
    failed = {name: exc for name, exc in outcomes.items() if isinstance(exc, Exception)}
    if not failed:
        return
    kinds = {type(exc) for exc in failed.values()}
    error = kinds.pop() if len(kinds) == 1 and issubclass(next(iter(kinds)), SparkfsError) else SparkfsError
    raise error(f"{len(failed)} of {len(outcomes)} feature views failed: {', '.join(failed)}; the others "
                "committed. Fix the cause and rerun the failed ones (a rerun is safe)")


_sandbox = click.option("--sandbox", is_flag=True, help="Run the repository's (possibly unapproved) version in the sandbox namespace; production tables are untouched.")
_all = click.option("--all", "every", is_flag=True, help="Every feature view of the repository, run concurrently.")
_concurrency = click.option("--concurrency", default=DEFAULT_CONCURRENCY, show_default=True, type=click.IntRange(min=1),
                            help="Views run at once (one session, a FAIR scheduler pool per view).")


def _run_line(run: RunRecord) -> str:
    return (f"run {run.run_id} {run.status}: {run.rows_in} rows in, {run.rows_out} rows written, "
            f"table version {run.output_version}, {run.duration_s:.1f}s")


@click.command("materialize")
@click.argument("feature_views", nargs=-1, metavar="[FEATURE_VIEW]...")
@_all
@click.option("--start", default=None, metavar="YYYY-MM-DD", help="First event date to (re)compute (inclusive).")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="Last event date, exclusive.")
@_sandbox
@_concurrency
@click.pass_obj
def materialize_cmd(state: CliContext, feature_views: tuple[str, ...], every: bool, start: str | None,
                    end: str | None, sandbox: bool, concurrency: int) -> None:
    """Compute each FEATURE_VIEW (or --all) into its Delta table.

    With --start/--end the event dates [start, end) are replaced exactly (rerunning gives the
    same rows). Without them the run is incremental: it continues from the last watermark and
    upserts rows that arrived late (within the view's late_arrival). Several views run
    concurrently in one Spark session; one failing does not stop the others.
    """
    from sparkfs.pipeline.materialize import execute, materialize_all

    lo, hi = _date(start, "--start"), _date(end, "--end")
    plans = _plans(state, sandbox, _views(state, sandbox, feature_views, every), lo, hi)
    ws = state.workspace(sandbox)
    if len(plans) == 1:
        click.echo(f"materializing {plans[0].view.name} ({ws.namespace}) ...", err=True)
        click.echo(_run_line(execute(state.spark, ws, plans[0], gate=state.quality_gate())))
        return
    click.echo(f"materializing {len(plans)} feature views ({ws.namespace}), {concurrency} at a time ...", err=True)

    def done(name: str, outcome: RunRecord | Exception) -> None:
        if isinstance(outcome, Exception):
            click.echo(f"{name}: failed: {escape_control(str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__)}", err=True)
        else:
            click.echo(f"{name}: {_run_line(outcome)}")

    _report(materialize_all(state.spark, ws, plans, gate=state.quality_gate(), concurrency=concurrency, on_done=done))


@click.command("backfill")
@click.argument("feature_views", nargs=-1, metavar="[FEATURE_VIEW]...")
@_all
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First event date (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last event date (exclusive).")
@click.option("--step", default="7d", show_default=True, help="Chunk size in whole days (e.g. 1d, 7d).")
@_sandbox
@_concurrency
@click.pass_obj
def backfill_cmd(state: CliContext, feature_views: tuple[str, ...], every: bool, start: str, end: str, step: str,
                 sandbox: bool, concurrency: int) -> None:
    """Recompute each FEATURE_VIEW (or --all) over [start, end) in chunks of --step days.

    Each finished chunk is recorded in the registry; rerunning after a crash skips the chunks
    already done. Each chunk replaces exactly its dates, so reruns never duplicate rows.
    Several views run concurrently (each view's chunks in order); one failing does not stop
    the others.
    """
    from sparkfs.pipeline.materialize import BackfillResult, backfill, backfill_all

    try:
        step_td = parse_duration(step)
    except ValueError as exc:
        raise ValidationError(f"--step: {exc}") from None
    if step_td < timedelta(days=1) or step_td % timedelta(days=1):
        raise ValidationError(f"--step {step!r} is not a positive whole number of days; "
                              "write e.g. 1d or 7d")
    lo, hi = _date(start, "--start"), _date(end, "--end")
    assert lo is not None and hi is not None
    views = _views(state, sandbox, feature_views, every)
    _plans(state, sandbox, views, lo, hi, job="backfill")
    ws = state.workspace(sandbox)

    def summary(name: str, result: BackfillResult) -> str:
        return (f"backfill of {name} {start}..{end}: {result.chunks_total} chunks, "
                f"{result.chunks_skipped} already done, {len(result.runs)} run, {result.rows_written} rows written")

    if len(views) == 1:
        def progress(done: int, total: int, rows: int) -> None:
            click.echo(f"  chunk {done}/{total} done, {rows} rows written so far", err=True)

        result = backfill(state.spark, ws, views[0], lo, hi, step=step_td, gate=state.quality_gate(),
                          on_progress=progress)
        click.echo(summary(views[0], result))
        return
    click.echo(f"backfilling {len(views)} feature views ({ws.namespace}), {concurrency} at a time ...", err=True)

    def done(name: str, outcome: BackfillResult | Exception) -> None:
        if isinstance(outcome, Exception):
            click.echo(f"{name}: failed: {escape_control(str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__)}", err=True)
        else:
            click.echo(summary(name, outcome))

    _report(backfill_all(state.spark, ws, views, lo, hi, step=step_td, gate=state.quality_gate(),
                         concurrency=concurrency, on_done=done))
