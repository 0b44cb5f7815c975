"""Run every expectation of a feature view on a batch in one Spark aggregation.

All counters (null counts, range / allowed / regex / SQL violations, row count, means, newest
event time, and the first and last offending row of every row-level rule as samples) are
columns of ONE ``agg`` query, so the batch is scanned once however many rules there are.
``unique`` is the exception: exact duplicates need a group-by over its columns, which runs as
a second job (folding a distinct count into the main aggregation was measured to cost more,
because Spark then groups every aggregate buffer by the unique columns); a failed ``unique``
also runs a small ``limit`` job for sample duplicates. The driver only ever sees the single
aggregate row and a few samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, MaxChange
from sparkfs.errors import ValidationError
from sparkfs.offline.conform import EVENT_TIMESTAMP
from sparkfs.quality.report import QualityReport, RuleResult
from sparkfs.quality.rules import MAX_TS, ROWS, Rule, compile_rule, dupes_alias, mean_alias
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
        if rule.expectation.type == "sql" and rule.violation is not None:
            try:
                batch.select(rule.violation)  # analysis only: no job runs
            except Exception as exc:
                raise ValidationError(
                    f"feature view {view.name!r}: expectation {rule.label} is not valid Spark SQL over the "
                    f"materialized rows: {str(exc).splitlines()[0]}"
                ) from exc
    return rules


def _sample_aggregates(batch: DataFrame, rules: Sequence[Rule]) -> dict[str, Column]:
    """The first and last offending row of each row-level rule, as part of the same aggregation.

    ``first(..., ignorenulls)`` stops evaluating its input once it holds a value, so a rule
    nobody violates costs only its predicate.
    """
    record = F.struct(*[F.col(c) for c in batch.columns])
    out: dict[str, Column] = {}
    for index, rule in enumerate(rules):
        if rule.violation is not None:
            flagged = F.when(rule.violation, record)
            out[f"_q_first_{index}"] = F.first(flagged, ignorenulls=True)
            out[f"_q_last_{index}"] = F.last(flagged, ignorenulls=True)
    return out


def _duplicate_rows(batch: DataFrame, cols: Sequence[str]) -> int:
    """Surplus rows sharing ``cols`` (rows with a null in them are not compared): one job."""
    complete = batch.where(F.expr(" AND ".join(f"`{c}` IS NOT NULL" for c in cols)))
    groups = complete.groupBy(*cols).count().where(F.col("count") > 1)
    row = groups.agg(F.coalesce(F.sum(F.col("count") - 1), F.lit(0)).alias("dupes")).first()
    return int(row["dupes"]) if row is not None else 0


def _samples(batch: DataFrame, rule: Rule, index: int, measured: dict[str, Any]) -> list[dict[str, Any]]:
    """Sample offending rows of a failed rule: from the aggregate row, or (unique) one small job."""
    if rule.group_columns:
        dupes = batch.groupBy(*rule.group_columns).count().where(F.col("count") > 1)
        return [r.asDict(recursive=True) for r in dupes.limit(SAMPLE_ROWS).collect()]
    found = [measured.get(f"_q_first_{index}"), measured.get(f"_q_last_{index}")]
    rows = [r.asDict(recursive=True) for r in found if r is not None]
    return [r for i, r in enumerate(rows) if r not in rows[:i]]


def evaluate(
    batch: DataFrame, rules: Sequence[Rule], previous: dict[str, Any] | None, now: datetime
) -> tuple[int, dict[str, Any], list[RuleResult]]:
    """(row count, batch metrics, one result per rule) from one aggregation job.

    ``unique`` rules add one group-by job per column set (and, if failed, a ``limit`` job for
    samples); every other rule rides on the single aggregation.
    """
    # epoch microseconds: independent of the Python process's time zone
    aggregates = {ROWS: F.count(F.lit(1)), MAX_TS: F.unix_micros(F.max(F.col(EVENT_TIMESTAMP)))}
    for rule in rules:
        aggregates.update(rule.aggregates)
    aggregates.update(_sample_aggregates(batch, rules))
    row = batch.agg(*[expr.alias(alias) for alias, expr in aggregates.items()]).first()
    assert row is not None
    measured = row.asDict()
    for cols in dict.fromkeys(r.group_columns for r in rules if r.group_columns):
        measured[dupes_alias(cols)] = _duplicate_rows(batch, cols)
    if measured[MAX_TS] is not None:
        measured[MAX_TS] = datetime.fromtimestamp(measured[MAX_TS] / 1e6, UTC)
    metrics: dict[str, Any] = {"row_count": int(measured[ROWS]),
                               "max_event_time": measured[MAX_TS].isoformat() if measured[MAX_TS] else None}
    for rule in rules:
        exp = rule.expectation
        if isinstance(exp, MaxChange) and exp.metric == "mean" and exp.column:
            metrics[f"mean:{exp.column}"] = measured[mean_alias(exp.column)]
    results = []
    for index, rule in enumerate(rules):
        o = rule.check(measured, previous, now)
        samples = [] if o.passed else _samples(batch, rule, index, measured)
        results.append(RuleResult(rule.label, rule.expectation.type, rule.severity, o.passed, o.failed_count,
                                  o.observed, samples))
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
