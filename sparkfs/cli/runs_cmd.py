"""``sparkfs runs``: the run history."""

from __future__ import annotations

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json, echo_table, fmt_time

__all__ = ["runs_cmd"]


@click.command("runs")
@click.argument("feature_view", required=False)
@click.option("--job", default=None, help="Only runs of this job (materialize, backfill, sync, training_set, validate).")
@click.option("--limit", default=20, show_default=True, help="How many of the newest runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def runs_cmd(state: CliContext, feature_view: str | None, job: str | None, limit: int, as_json: bool) -> None:
    """List recorded runs, newest first (optionally of one FEATURE_VIEW)."""
    state.runs.reap_stale()
    records = state.runs.list(feature_view=feature_view, job=job, limit=limit)
    if as_json:
        echo_json([r.__dict__ for r in records])
        return
    echo_table(
        ["run", "job", "feature_view", "version", "status", "range", "rows_in", "rows_out", "out_v", "secs", "started"],
        [
            [
                r.run_id[:12], r.job, r.feature_view, (r.version or "")[:8], r.status,
                f"{fmt_time(r.range_start)[:10]}..{fmt_time(r.range_end)[:10]}" if r.range_start else "",
                r.rows_in, r.rows_out, r.output_version,
                f"{r.duration_s:.1f}" if r.duration_s is not None else "", fmt_time(r.started_at),
            ]
            for r in records
        ],
    )
