"""A dry run of a feature view's quality gate over a range: ``sparkfs validate`` and the
``validate`` job (the quality-gate step of a scheduled run, docs/scheduling.md).

It computes exactly the batch ``materialize`` would write for [start, end), evaluates the
view's expectations in one Spark pass and records the report under a ``validate`` run. Nothing
is written: not the feature table, the quarantine table nor the incremental watermark.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sparkfs.definitions import definition_version
from sparkfs.errors import QualityGateError, ValidationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.workspace import Workspace
    from sparkfs.quality.report import QualityReport

__all__ = ["check_range", "raise_if_blocked", "validate_range"]


def check_range(start: datetime | None, end: datetime | None) -> None:
    """Both ends or neither, start before end (end exclusive); cheap, so callers check first."""
    if (start is None) != (end is None):
        raise ValidationError("give both --start and --end, or neither (the whole source)")
    if start is not None and end is not None and start >= end:
        raise ValidationError(f"--start {start.date()} must be before --end {end.date()} (end is exclusive)")


def validate_range(spark: SparkSession, workspace: Workspace, view_name: str,
                   start: datetime | None = None, end: datetime | None = None) -> QualityReport | None:
    """The quality report of the batch for [start, end) (the whole source without a range), or
    ``None`` when the view declares no expectations (nothing to check, no run recorded)."""
    from sparkfs.offline.batch import feature_batch
    from sparkfs.offline.source import read_source
    from sparkfs.pipeline.lineage import note_quality, note_source, note_window
    from sparkfs.pipeline.quality import check_batch
    from sparkfs.pipeline.runs import recorded_run

    check_range(start, end)
    view = workspace.repository.feature_view(view_name)
    if not view.expectations:
        return None
    version = definition_version(view)
    with recorded_run(workspace, "validate", spark=spark, feature_view=view.name, version=version,
                      range_start=start, range_end=end) as run:
        source = read_source(spark, view, workspace.config.data_dir)
        note_source(run, spark, workspace, view, source, columns=False)
        note_window(run, start, end, "range" if start else "full")
        batch = feature_batch(spark, view, workspace.repository.join_keys(view), source.df, start, end,
                              name=run.run_id).rows
        report = check_batch(workspace, view, version, batch, run.run_id)
        note_quality(run, workspace)
        failed = ", ".join(r.label for r in report.blocking)
        run.rows_in = report.rows
        if failed:
            run.status, run.error = "failed", f"quality gate failed: {failed}"
    return report


def raise_if_blocked(report: QualityReport) -> None:
    """A :class:`QualityGateError` naming the failed rules when an error-severity one failed."""
    if report.passed:
        return
    failed = ", ".join(r.label for r in report.blocking)
    raise QualityGateError(
        f"{len(report.blocking)} error-severity expectation(s) failed ({failed}); see the report above. "
        "This was a dry run: nothing was written."
    )
