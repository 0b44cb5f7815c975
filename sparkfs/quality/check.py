"""Run every expectation of a feature view on a batch in one Spark aggregation.

All counters (null counts, range / allowed / regex / SQL violations, the exact distinct count
behind ``unique``, row count, means, newest event time) are columns of ONE ``agg`` query, so
the batch is scanned once however many rules there are. Only after a rule fails is a small
``limit`` job run per failed rule to fetch sample rows. The driver only ever sees the single
aggregate row and a few samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, MaxChange
from sparkfs.errors import ValidationError
from sparkfs.offline.conform import EVENT_TIMESTAMP
from sparkfs.quality.report import QualityReport, RuleResult
from sparkfs.quality.rules import MAX_TS, ROWS, Rule, compile_rule, mean_alias
from sparkfs.quality.store import QualityStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkfs.workspace import Workspace

__all__ = ["SAMPLE_ROWS", "check_batch", "compile_rules", "evaluate"]

SAMPLE_ROWS = 3


def compile_rules(view: FeatureView, keys: Sequence[str], batch: DataFrame) -> list[Rule]:
    """Compile the view's expectations against ``batch``, naming any column it lacks."""
    rename = {view.timestamp_column: EVENT_TIMESTAMP}
    rules = [compile_rule(exp, [*keys, EVENT_TIMESTAMP], rename) for exp in view.expectations]
    available = set(batch.columns)
    for rule in rules:
        missing = [c for c in rule.columns if c not in available]
        if missing:
            raise ValidationError(
                f"feature view {view.name!r}: expectation {rule.label} names column(s) {', '.join(missing)} "
                f"that the materialized rows do not have ({', '.join(batch.columns)}); fix the expectation"
            )
        if rule.expectation.type == "sql":
            try:
                batch.select(rule.violation)  # analysis only: no job runs
            except Exception as exc:
                raise ValidationError(
                    f"feature view {view.name!r}: expectation {rule.label} is not valid Spark SQL over the "
                    f"materialized rows: {str(exc).splitlines()[0]}"
                ) from exc
    return rules


def _samples(batch: DataFrame, rule: Rule) -> list[dict[str, Any]]:
    if rule.group_columns:
        dupes = batch.groupBy(*rule.group_columns).count().where(F.col("count") > 1)
        rows = dupes.limit(SAMPLE_ROWS).collect()
    elif rule.violation is not None:
        rows = batch.where(rule.violation).limit(SAMPLE_ROWS).collect()
    else:
        return []
    return [r.asDict() for r in rows]


def evaluate(
    batch: DataFrame, rules: Sequence[Rule], previous: dict[str, Any] | None, now: datetime
) -> tuple[int, dict[str, Any], list[RuleResult]]:
    """(row count, batch metrics, one result per rule) from one aggregation job."""
    aggregates = {ROWS: F.count(F.lit(1)), MAX_TS: F.max(F.col(EVENT_TIMESTAMP))}
    for rule in rules:
        aggregates.update(rule.aggregates)
    row = batch.agg(*[expr.alias(alias) for alias, expr in aggregates.items()]).first()
    assert row is not None
    measured = row.asDict()
    metrics: dict[str, Any] = {"row_count": int(measured[ROWS]),
                               "max_event_time": measured[MAX_TS].isoformat() if measured[MAX_TS] else None}
    for rule in rules:
        exp = rule.expectation
        if isinstance(exp, MaxChange) and exp.metric == "mean" and exp.column:
            metrics[f"mean:{exp.column}"] = measured[mean_alias(exp.column)]
    results = []
    for rule in rules:
        outcome = rule.check(measured, previous, now)
        samples = [] if outcome.passed else _samples(batch, rule)
        results.append(RuleResult(rule.label, rule.expectation.type, rule.severity, outcome.passed,
                                  outcome.failed_count, outcome.observed, samples))
    return int(measured[ROWS]), metrics, results


def check_batch(
    workspace: Workspace, view: FeatureView, version: str, batch: DataFrame, run_id: str,
    *, now: datetime | None = None,
) -> QualityReport:
    """Evaluate ``view``'s expectations on ``batch`` and record the results under ``run_id``."""
    keys = [k.name for k in workspace.repository.join_keys(view)]
    rules = compile_rules(view, keys, batch)
    store = QualityStore(workspace.engine)
    needs_history = any(isinstance(r.expectation, MaxChange) for r in rules)
    previous = store.previous_metrics(view.name, workspace.namespace, run_id) if needs_history else None
    rows, metrics, results = evaluate(batch, rules, previous, now or datetime.now(UTC))
    report = QualityReport(view.name, version, run_id, rows, metrics, results)
    store.record(report)
    return report
