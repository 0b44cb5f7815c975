"""The quality gate materialization runs before committing a batch, and recorded checks.

On an error-severity failure the batch is appended to a quarantine Delta table,
``<offline_root>/_quarantine/<view>``, with ``_run_id``, ``_quarantined_at`` and
``_violations`` (the row-level rules each row broke), and :class:`QualityGateError` is raised
with the report, so nothing reaches the feature table: its current version stays current.
Warnings are recorded in ``quality_results`` and do not block. The Spark side (one measuring
pass while caching, the quarantine write) is :mod:`sparkfs.quality.gate`; this module adds the
registry: the results, ``max_change``'s history and the audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sparkfs.definitions import QUARANTINE_DIR, FeatureView, MaxChange
from sparkfs.errors import QualityGateError
from sparkfs.quality.check import compile_rules, evaluate
from sparkfs.quality.gate import measure_into_cache, write_quarantine
from sparkfs.quality.report import QualityReport
from sparkfs.quality.rules import Rule
from sparkfs.registry.quality_results import QualityStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["check_batch", "quality_gate", "quarantine_path", "view_keys"]


def view_keys(workspace: Workspace, view: FeatureView) -> list[str]:
    """The join key column names of ``view`` (its entities' keys, in order)."""
    return [k.name for k in workspace.repository.join_keys(view)]


def quarantine_path(workspace: Workspace, view: str) -> str:
    """Where a failed batch of ``view`` goes, under the workspace's offline root."""
    return f"{workspace.offline_root.rstrip('/')}/{QUARANTINE_DIR}/{view}"


def check_batch(
    workspace: Workspace, view: FeatureView, version: str, batch: DataFrame, run_id: str,
    *, now: datetime | None = None, rules: Sequence[Rule] | None = None,
    measured: Mapping[str, Any] | None = None,
) -> QualityReport:
    """Evaluate ``view``'s expectations on ``batch`` and record the results under ``run_id``.

    ``rules`` and ``measured``: the compiled rules and their
    :func:`~sparkfs.quality.check.batch_aggregates` values when the caller already measured the
    batch (see :func:`~sparkfs.quality.check.evaluate`).
    """
    if rules is None:
        rules = compile_rules(view, view_keys(workspace, view), batch)
    store = QualityStore(workspace.engine)
    needs_history = any(isinstance(r.expectation, MaxChange) for r in rules)
    previous = store.previous_metrics(view.name, workspace.namespace, run_id) if needs_history else None
    rows, metrics, results = evaluate(batch, rules, previous, now or datetime.now(UTC), measured=measured)
    report = QualityReport(view.name, version, run_id, rows, metrics, results)
    store.record(report)
    return report


def quality_gate(
    spark: SparkSession, workspace: Workspace, view: FeatureView, version: str, batch: DataFrame, run_id: str
) -> DataFrame | None:
    """A :data:`sparkfs.pipeline.materialize.Gate`: check, record, quarantine and block on error.

    A view without expectations costs nothing (no Spark job) and returns ``None``. Otherwise the
    batch is computed once into a cache while every rule's counters are measured (one pass, no
    aggregation job of its own), and the cached batch is returned for the write to read; the
    caller unpersists it.

    Raises:
        QualityGateError: an error-severity rule failed; the message is the full report.
    """
    if not view.expectations:
        return None
    rules = compile_rules(view, view_keys(workspace, view), batch)
    cached, measured = measure_into_cache(spark, batch, rules, run_id)
    try:
        report = check_batch(workspace, view, version, cached, run_id, rules=rules, measured=measured)
        if report.passed:
            return cached
        path = quarantine_path(workspace, view.name)
        write_quarantine(cached, rules, report, path)
    except BaseException:
        cached.unpersist()
        raise
    cached.unpersist()
    failed = [r.label for r in report.blocking]
    workspace.audit.append(user=workspace.user, action="quality_gate", kind="feature_view", name=view.name,
                           version=version, outcome="failed",
                           details={"run_id": run_id, "failed": failed, "quarantine": path})
    raise QualityGateError(
        f"{report.render()}\nnothing was committed to the feature table (its current version stays current); "
        f"the batch is in the quarantine table {path} (_run_id = '{run_id}'). Fix the source data or the "
        f"expectation, then rerun; `sparkfs validate {view.name}` checks without writing."
    )
