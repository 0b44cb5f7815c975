"""Run every expectation of a feature view on a batch in one Spark aggregation.

All counters (null counts, range / allowed / regex / SQL violations, row count, means, newest
event time) are columns of ONE ``agg`` query, so the batch is scanned once however many rules
there are. ``unique`` over a plain view's keys and event time is a sum of :data:`SOURCE_ROWS`
in the same aggregation (the batch is already grouped by them). Any other ``unique`` needs a
group-by over its columns, which runs as a second job (folding a distinct count into the main
aggregation was measured to cost more, because Spark then groups every aggregate buffer by the
unique columns). Only a failed rule costs more: one small ``limit`` job for its sample rows.
The driver only ever sees the single aggregate row and a few samples.

The quality gate does not even run that aggregation as a job of its own: it ``observe``s the
same aggregate columns while the batch is computed into the cache the write then reads
(:mod:`sparkfs.quality.gate`, :mod:`sparkfs.pipeline.quality`), and hands the measured row to :func:`evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, MaxChange, Unique
from sparkfs.errors import ValidationError
from sparkfs.offline.conform import CREATED_AT, EVENT_TIMESTAMP, SOURCE_ROWS
from sparkfs.quality.report import RuleResult
from sparkfs.quality.rules import (
    MAX_TS,
    ROWS,
    Rule,
    compile_rule,
    dupes_alias,
    mean_alias,
    unique_from_source_rows,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["SAMPLE_ROWS", "batch_aggregates", "compile_rules", "evaluate"]

SAMPLE_ROWS = 3


def compile_rules(view: FeatureView, keys: Sequence[str], batch: DataFrame) -> list[Rule]:
    """Compile the view's expectations against ``batch``, naming any column it lacks."""
    rename = {view.timestamp_column: EVENT_TIMESTAMP}
    if view.created_timestamp_column is not None:
        rename[view.created_timestamp_column] = CREATED_AT
    rules = [compile_rule(exp, [*keys, EVENT_TIMESTAMP], rename) for exp in view.expectations]
    available = set(batch.columns)
    if SOURCE_ROWS in available:  # a plain view's batch: already grouped by keys and event time
        grouped_by = {*keys, EVENT_TIMESTAMP, *([CREATED_AT] if view.availability == "created" else [])}
        rules = [unique_from_source_rows(r.label, r.expectation, r.group_columns, SOURCE_ROWS)
                 if isinstance(r.expectation, Unique) and set(r.group_columns) == grouped_by else r
                 for r in rules]
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


def _duplicate_rows(batch: DataFrame, cols: Sequence[str]) -> int:
    """Surplus rows sharing ``cols`` (rows with a null in them are not compared): one job."""
    complete = batch.where(F.expr(" AND ".join(f"`{c}` IS NOT NULL" for c in cols)))
    groups = complete.groupBy(*cols).count().where(F.col("count") > 1)
    row = groups.agg(F.coalesce(F.sum(F.col("count") - 1), F.lit(0)).alias("dupes")).first()
    return int(row["dupes"]) if row is not None else 0


def _samples(batch: DataFrame, rule: Rule) -> list[dict[str, Any]]:
    """A few offending rows of a failed rule: one small ``limit`` job, run only on failure
    (carrying sample rows through the main aggregation was measured to cost more than the
    aggregation itself on the passing path)."""
    if rule.group_columns:
        dupes = batch.groupBy(*rule.group_columns).count().where(F.col("count") > 1)
        return [r.asDict(recursive=True) for r in dupes.limit(SAMPLE_ROWS).collect()]
    if rule.violation is None:
        return []
    return [r.asDict(recursive=True) for r in batch.where(rule.violation).limit(SAMPLE_ROWS).collect()]


def batch_aggregates(rules: Sequence[Rule]) -> list[Column]:
    """Every counter the rules read, as aliased aggregate columns of one aggregation (or of one
    ``observe``: the quality gate measures while the batch is being cached)."""
    # epoch microseconds: independent of the Python process's time zone
    aggregates = {ROWS: F.count(F.lit(1)), MAX_TS: F.unix_micros(F.max(F.col(EVENT_TIMESTAMP)))}
    for rule in rules:
        aggregates.update(rule.aggregates)
    return [expr.alias(alias) for alias, expr in aggregates.items()]


def evaluate(
    batch: DataFrame, rules: Sequence[Rule], previous: dict[str, Any] | None, now: datetime,
    *, measured: Mapping[str, Any] | None = None,
) -> tuple[int, dict[str, Any], list[RuleResult]]:
    """(row count, batch metrics, one result per rule) from one aggregation job.

    ``measured``: the values of :func:`batch_aggregates` already taken over ``batch`` (then the
    aggregation job is not run). ``unique`` rules add one group-by job per column set (and, if
    failed, a ``limit`` job for samples); every other rule rides on the single aggregation.
    """
    if measured is None:
        row = batch.agg(*batch_aggregates(rules)).first()
        assert row is not None
        measured = row.asDict()
    measured = dict(measured)
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
    for rule in rules:
        o = rule.check(measured, previous, now)
        samples = [] if o.passed else _samples(batch, rule)
        results.append(RuleResult(rule.label, rule.expectation.type, rule.severity, o.passed, o.failed_count,
                                  o.observed, samples))
    return int(measured[ROWS]), metrics, results
