"""Quality results in the registry: one row per rule per run, plus the batch metrics.

The batch metrics row (rule ``__batch__``) is what ``max_change`` compares against: the most
recent one of a *succeeded* materialization run (not a validation dry run) of the same view in
the same namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select

from sparkfs.quality.report import QualityReport
from sparkfs.registry.schema import quality_results, runs

__all__ = ["BATCH_RULE", "QualityStore"]

BATCH_RULE = "__batch__"


class QualityStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, report: QualityReport) -> None:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {"run_id": report.run_id, "feature_view": report.feature_view, "version": report.version,
             "rule": r.label[:256], "severity": r.severity, "passed": r.passed, "failed_count": r.failed_count,
             "observed": {**r.observed, "type": r.type}, "at": now}
            for r in report.results
        ]
        rows.append({"run_id": report.run_id, "feature_view": report.feature_view, "version": report.version,
                     "rule": BATCH_RULE, "severity": "info", "passed": report.passed, "failed_count": None,
                     "observed": report.metrics, "at": now})
        with self._engine.begin() as conn:
            conn.execute(insert(quality_results), rows)

    def previous_metrics(self, feature_view: str, namespace: str, exclude_run: str) -> dict[str, Any] | None:
        """Metrics of the last succeeded (non-validation) run of ``feature_view``, if any."""
        query = (
            select(quality_results.c.observed)
            .join(runs, runs.c.run_id == quality_results.c.run_id)
            .where(and_(quality_results.c.feature_view == feature_view, quality_results.c.rule == BATCH_RULE,
                        quality_results.c.run_id != exclude_run, runs.c.status == "succeeded",
                        runs.c.job != "validate", runs.c.namespace == namespace))
            .order_by(quality_results.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row.observed) if row is not None and row.observed else None

    def results(self, run_id: str) -> list[dict[str, Any]]:
        query = select(quality_results).where(quality_results.c.run_id == run_id).order_by(quality_results.c.id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]
