"""Expectations compiled to Spark columns: aggregate counters, a row predicate, a check.

Every rule contributes aggregate expressions to ONE ``agg`` over the batch (see
:mod:`sparkfs.quality.check`); ``violation`` selects its offending rows (used only for samples
and to label quarantined rows, after a failure); ``constraint`` is the SQL ``CHECK`` expression
that enforces a hard rule on the Delta table. ``violation`` and ``constraint`` are two views of
the same predicate: a row violates the rule exactly when it fails the constraint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from sparkfs.definitions import (
    AllowedValues,
    Expectation,
    Freshness,
    MaxChange,
    MaxNullFraction,
    NotNull,
    Range,
    Regex,
    RowCount,
    SqlPredicate,
    Unique,
)

__all__ = ["MAX_TS", "ROWS", "Outcome", "Rule", "compile_rule", "dupes_alias", "mean_alias", "rule_label"]

ROWS = "_q_rows"
MAX_TS = "_q_max_ts"


@dataclass(frozen=True)
class Outcome:
    passed: bool
    failed_count: int | None
    observed: dict[str, Any]


Check = Callable[[Mapping[str, Any], Mapping[str, Any] | None, datetime], Outcome]


@dataclass(frozen=True)
class Rule:
    """One compiled expectation."""

    label: str
    expectation: Expectation
    aggregates: dict[str, Column]
    check: Check
    columns: tuple[str, ...]
    violation: Column | None = None
    constraint: str | None = None
    group_columns: tuple[str, ...] = field(default=())  # unique: samples come from a group-by

    @property
    def severity(self) -> str:
        return self.expectation.severity


def rule_label(exp: Expectation) -> str:
    """``name`` if given, else ``type(column)``: how reports and quality_results name a rule."""
    if exp.name:
        return exp.name
    target = getattr(exp, "column", None) or ",".join(getattr(exp, "columns", None) or [])
    if isinstance(exp, MaxChange):
        target = exp.metric + (f":{exp.column}" if exp.column else "")
    if isinstance(exp, SqlPredicate):
        target = exp.predicate
    return f"{exp.type}({target})" if target else exp.type


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sql_literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _count(cond: Column) -> Column:
    return F.coalesce(F.sum(F.when(cond, 1).otherwise(0)), F.lit(0)).cast("long")


def _row_rule(label: str, exp: Expectation, column: str, cond_sql: str, ok_sql: str, observed: dict[str, Any]) -> Rule:
    """A rule that counts rows matching ``cond_sql`` (never null) and fails if any do."""
    alias = "_q_" + hashlib.sha256(cond_sql.encode()).hexdigest()[:12]

    def check(m: Mapping[str, Any], _prev: Mapping[str, Any] | None, _now: datetime) -> Outcome:
        bad = int(m[alias])
        return Outcome(bad == 0, bad, {**observed, "violations": bad, "rows": int(m[ROWS])})

    violation = F.expr(cond_sql)
    return Rule(label, exp, {alias: _count(violation)}, check, (column,), violation, ok_sql)


def _not_null(label: str, exp: NotNull, col: str) -> Rule:
    return _row_rule(label, exp, col, f"{_q(col)} IS NULL", f"{_q(col)} IS NOT NULL", {})


def _range(label: str, exp: Range, col: str) -> Rule:
    bounds = [f"{_q(col)} >= {exp.min!r}"] if exp.min is not None else []
    bounds += [f"{_q(col)} <= {exp.max!r}"] if exp.max is not None else []
    inside = " AND ".join(bounds) or "TRUE"
    return _row_rule(label, exp, col, f"{_q(col)} IS NOT NULL AND NOT ({inside})",
                     f"{_q(col)} IS NULL OR ({inside})", {"min": exp.min, "max": exp.max})


def _allowed(label: str, exp: AllowedValues, col: str) -> Rule:
    values = ", ".join(_sql_literal(v) for v in exp.values)
    return _row_rule(label, exp, col, f"{_q(col)} IS NOT NULL AND NOT ({_q(col)} IN ({values}))",
                     f"{_q(col)} IS NULL OR {_q(col)} IN ({values})", {"allowed": list(exp.values)})


def _regex(label: str, exp: Regex, col: str) -> Rule:
    pattern = _sql_literal(exp.pattern)
    text = f"CAST({_q(col)} AS STRING)"
    return _row_rule(label, exp, col, f"{_q(col)} IS NOT NULL AND NOT ({text} RLIKE {pattern})",
                     f"{_q(col)} IS NULL OR {text} RLIKE {pattern}", {"pattern": exp.pattern})


def _sql(label: str, exp: SqlPredicate) -> Rule:
    # A predicate that evaluates to NULL counts as a violation (and fails the CHECK, too).
    rule = _row_rule(label, exp, "sql", f"NOT coalesce(({exp.predicate}), FALSE)",
                     f"coalesce(({exp.predicate}), FALSE)", {"predicate": exp.predicate})
    return Rule(rule.label, exp, rule.aggregates, rule.check, (), rule.violation, rule.constraint)


def _max_null_fraction(label: str, exp: MaxNullFraction, col: str) -> Rule:
    alias = re.sub(r"\W", "_", f"_q_nulls_{col}")
    violation = F.col(col).isNull()

    def check(m: Mapping[str, Any], _prev: Mapping[str, Any] | None, _now: datetime) -> Outcome:
        nulls, rows = int(m[alias]), int(m[ROWS])
        frac = nulls / rows if rows else 0.0
        return Outcome(frac <= exp.fraction, nulls, {"null_fraction": frac, "max": exp.fraction, "nulls": nulls, "rows": rows})

    return Rule(label, exp, {alias: _count(violation)}, check, (col,), violation)


def dupes_alias(cols: Sequence[str]) -> str:
    return re.sub(r"\W", "_", f"_q_dupes_{'_'.join(cols)}")[:120]


def _dupes_check(cols: Sequence[str]) -> Check:
    """Passes when the measured surplus rows over ``cols`` is zero (both forms of ``unique``)."""
    alias = dupes_alias(cols)

    def check(m: Mapping[str, Any], _prev: Mapping[str, Any] | None, _now: datetime) -> Outcome:
        dupes = int(m[alias])
        return Outcome(dupes == 0, dupes, {"columns": list(cols), "duplicate_rows": dupes})

    return check


def _unique(label: str, exp: Unique, cols: Sequence[str]) -> Rule:
    # Exact duplicates need a group-by over the columns: that runs as its own job (see
    # sparkfs.quality.check), because folding a distinct count into the main aggregation
    # makes Spark group every aggregate buffer by the unique columns, which costs far more.
    return Rule(label, exp, {}, _dupes_check(cols), tuple(cols), group_columns=tuple(cols))


def unique_from_source_rows(label: str, exp: Unique, cols: Sequence[str], source_rows: str) -> Rule:
    """``unique`` over the columns a plain view's batch is already grouped by (keys and event
    time): each row says how many source rows it stands for, so the surplus rows are a sum in
    the single aggregation, with no group-by job. It counts the duplicates of the *source*,
    which the batch itself has already collapsed (see ``conform_features``)."""
    surplus = F.coalesce(F.sum(F.col(source_rows) - 1), F.lit(0)).cast("long")
    return Rule(label, exp, {dupes_alias(cols): surplus}, _dupes_check(cols), (*cols, source_rows),
                F.col(source_rows) > 1)


def _row_count(label: str, exp: RowCount) -> Rule:
    def check(m: Mapping[str, Any], _prev: Mapping[str, Any] | None, _now: datetime) -> Outcome:
        rows = int(m[ROWS])
        ok = (exp.min is None or rows >= exp.min) and (exp.max is None or rows <= exp.max)
        return Outcome(ok, None if ok else rows, {"rows": rows, "min": exp.min, "max": exp.max})

    return Rule(label, exp, {}, check, ())


def mean_alias(column: str) -> str:
    return re.sub(r"\W", "_", f"_q_mean_{column}")


def _max_change(label: str, exp: MaxChange) -> Rule:
    if exp.metric == "mean" and not exp.column:
        from sparkfs.errors import ValidationError

        raise ValidationError(f"expectation {label}: metric mean needs a column")
    key = "row_count" if exp.metric == "row_count" else f"mean:{exp.column}"

    def check(m: Mapping[str, Any], prev: Mapping[str, Any] | None, _now: datetime) -> Outcome:
        current = m[ROWS] if exp.metric == "row_count" else m[mean_alias(exp.column or "")]
        before = (prev or {}).get(key)
        observed: dict[str, Any] = {"metric": key, "current": current, "previous": before, "max_fraction": exp.max_fraction}
        if before is None or current is None:
            return Outcome(True, None, {**observed, "note": "no previous successful run to compare with"})
        change = abs(float(current) - float(before)) / abs(float(before)) if before else (0.0 if current == before else float("inf"))
        return Outcome(change <= exp.max_fraction, None, {**observed, "change": change})

    aggs = {mean_alias(exp.column): F.avg(F.col(exp.column))} if exp.metric == "mean" and exp.column else {}
    return Rule(label, exp, aggs, check, (exp.column,) if exp.column else ())


def _freshness(label: str, exp: Freshness) -> Rule:
    def check(m: Mapping[str, Any], _prev: Mapping[str, Any] | None, now: datetime) -> Outcome:
        newest = m[MAX_TS]
        if newest is None:
            return Outcome(False, None, {"newest": None, "max_age": str(exp.max_age), "note": "the batch is empty"})
        newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = now - newest
        return Outcome(age <= exp.max_age, None, {"newest": newest.isoformat(), "age_s": age.total_seconds(),
                                                   "max_age_s": exp.max_age.total_seconds()})

    return Rule(label, exp, {}, check, ())


def compile_rule(exp: Expectation, default_unique: Sequence[str], rename: Mapping[str, str]) -> Rule:
    """Compile one expectation; ``rename`` maps source column names to batch columns."""
    label = rule_label(exp)
    col = rename.get(getattr(exp, "column", None) or "", getattr(exp, "column", None) or "")
    if isinstance(exp, NotNull):
        return _not_null(label, exp, col)
    if isinstance(exp, Range):
        return _range(label, exp, col)
    if isinstance(exp, AllowedValues):
        return _allowed(label, exp, col)
    if isinstance(exp, Regex):
        return _regex(label, exp, col)
    if isinstance(exp, SqlPredicate):
        return _sql(label, exp)
    if isinstance(exp, MaxNullFraction):
        return _max_null_fraction(label, exp, col)
    if isinstance(exp, Unique):
        return _unique(label, exp, [rename.get(c, c) for c in exp.columns or default_unique])
    if isinstance(exp, RowCount):
        return _row_count(label, exp)
    if isinstance(exp, MaxChange):
        renamed = exp.model_copy(update={"column": rename.get(exp.column, exp.column)}) if exp.column else exp
        return _max_change(label, renamed)
    assert isinstance(exp, Freshness)
    return _freshness(label, exp)
