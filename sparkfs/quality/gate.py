"""The quality gate materialization runs before committing a batch.

On an error-severity failure the batch is appended to a quarantine Delta table,
``<offline_root>/_quarantine/<view>``, with ``_run_id``, ``_quarantined_at`` and
``_violations`` (the row-level rules each row broke), and :class:`QualityGateError` is raised
with the report, so nothing reaches the feature table: its current version stays current.
Warnings are recorded in ``quality_results`` and do not block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView
from sparkfs.errors import QualityGateError
from sparkfs.quality.check import check_batch, compile_rules
from sparkfs.quality.report import QualityReport

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.workspace import Workspace

__all__ = ["QUARANTINE_DIR", "quality_gate", "quarantine", "quarantine_path"]

QUARANTINE_DIR = "_quarantine"


def quarantine_path(workspace: Workspace, view: str) -> str:
    return f"{workspace.offline_root.rstrip('/')}/{QUARANTINE_DIR}/{view}"


def quarantine(workspace: Workspace, view: FeatureView, batch: DataFrame, report: QualityReport) -> str:
    """Append the failed batch, each row labelled with the rules it broke; returns the path."""
    keys = [k.name for k in workspace.repository.join_keys(view)]
    flags = [F.when(rule.violation, F.lit(rule.label)) for rule in compile_rules(view, keys, batch)
             if rule.violation is not None]
    violations = F.array_compact(F.array(*flags)) if flags else F.array().cast("array<string>")
    path = quarantine_path(workspace, view.name)
    (batch.withColumn("_run_id", F.lit(report.run_id))
     .withColumn("_definition_version", F.lit(report.version))
     .withColumn("_quarantined_at", F.current_timestamp())
     .withColumn("_violations", violations)
     .write.format("delta").mode("append").option("mergeSchema", "true").save(path))
    return path


def quality_gate(
    spark: SparkSession, workspace: Workspace, view: FeatureView, version: str, batch: DataFrame, run_id: str
) -> None:
    """A :data:`sparkfs.offline.materialize.Gate`: check, record, quarantine and block on error.

    A view without expectations costs nothing (no Spark job).

    Raises:
        QualityGateError: an error-severity rule failed; the message is the full report.
    """
    if not view.expectations:
        return
    report = check_batch(workspace, view, version, batch, run_id)
    if report.passed:
        return
    path = quarantine(workspace, view, batch, report)
    failed = [r.label for r in report.blocking]
    workspace.audit.append(user=workspace.user, action="quality_gate", kind="feature_view", name=view.name,
                           version=version, outcome="failed",
                           details={"run_id": run_id, "failed": failed, "quarantine": path})
    raise QualityGateError(
        f"{report.render()}\nnothing was committed to the feature table (its current version stays current); "
        f"the batch is in the quarantine table {path} (_run_id = '{run_id}'). Fix the source data or the "
        f"expectation, then rerun; `sparkfs validate {view.name}` checks without writing."
    )
