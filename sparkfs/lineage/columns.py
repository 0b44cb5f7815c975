"""Column lineage: which source columns each feature derives from, and how.

Declared, not guessed. Aggregations come from their spec (function, column, window, grain).
SQL and Python transformations are read from Spark's analyzed plan of the transformation's
output over the source as read: each output attribute is followed through the plan's aliases
(by Catalyst expression id) down to the attributes of the source relation. Whatever the walk
cannot follow exactly (a generator, a union, a column the source does not have, an
expression made only of literals) is reported as ``unknown`` with the reason.

Without the source frame there is no plan, so SQL and Python features are ``unknown`` and say
so; ``sparkfs materialize`` records the derived lineage with every run, and
:func:`sparkfs.lineage.query.lineage` returns the recorded one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sparkfs.definitions import FeatureView, window_label
from sparkfs.durations import format_duration

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkfs.definitions.loader import Repository

__all__ = ["ColumnLineage", "How", "column_lineage", "from_dict", "to_dict"]

How = Literal["identity", "transformation", "aggregation", "unknown"]
_RANK: dict[str, int] = {"identity": 0, "transformation": 1, "aggregation": 2}

#: Plan nodes whose output ids do not say where a row came from (a union's output carries the
#: ids of its first child only): a feature passing through one is ``unknown``.
_OPAQUE_NODES = {"Union", "Intersect", "Except", "Expand", "CollectMetrics", "MapInPandas",
                 "MapInArrow", "FlatMapGroupsInPandas", "PythonMapInArrow", "MapPartitions",
                 "MapElements", "SerializeFromObject", "DeserializeToObject"}
_AGGREGATE_EXPRESSIONS = {"AggregateExpression", "WindowExpression"}
_QUALIFIER = re.compile(r"`?_pyspark_[0-9a-f]+`?\.|`?spark_catalog`?\.(`?\w+`?\.)?")


@dataclass(frozen=True)
class ColumnLineage:
    """Where one feature comes from.

    ``sources`` lists ``(source, column)`` pairs; ``how`` is ``identity`` (the column, perhaps
    renamed), ``transformation`` (an expression, e.g. a cast; ``detail`` shows it),
    ``aggregation`` (``detail`` names the function and window) or ``unknown`` (``detail``
    says why it could not be derived).
    """

    feature: str
    sources: tuple[tuple[str, str], ...]
    how: How
    detail: str


def to_dict(item: ColumnLineage) -> dict[str, Any]:
    return {"feature": item.feature, "sources": [list(s) for s in item.sources], "how": item.how,
            "detail": item.detail}


def from_dict(data: dict[str, Any]) -> ColumnLineage:
    return ColumnLineage(feature=data["feature"], sources=tuple((s[0], s[1]) for s in data["sources"]),
                         how=data["how"], detail=data["detail"])


def column_lineage(view: FeatureView, repository: Repository, *, source: DataFrame | None = None,
                   source_name: str | None = None, transformed: DataFrame | None = None) -> list[ColumnLineage]:
    """The lineage of every feature of ``view``, in the view's feature order.

    Args:
        view: the feature view.
        repository: the repository the view belongs to (for its entities' join keys).
        source: the view's source as read (e.g. :func:`sparkfs.offline.source.read_source`'s
            frame); needed to analyse a SQL or Python transformation.
        source_name: how to name the source in ``sources`` (default: its declared path or
            ``table:NAME``; the pipeline passes the resolved location).
        transformed: the transformation applied to ``source``, when the caller has it (a
            materialization does): saves analysing the transformation a second time.
    """
    name = source_name or _declared_source(view)
    repository.join_keys(view)  # an unknown entity fails here, as it does everywhere else
    traces = _traces(view, source, transformed)
    out: list[ColumnLineage] = []
    for feature in view.features:
        out.append(_plain_feature(feature.name, feature.type, name, traces, source))
    if view.aggregations is not None:
        spec = view.aggregations
        for agg in spec.features:
            for window in spec.windows:
                out.append(_aggregate_feature(f"{agg.name}_{window_label(window)}", agg.function,
                                              agg.column, format_duration(window), spec.grain, name, traces))
    return out


def _declared_source(view: FeatureView) -> str:
    src = view.source
    return f"table:{src.table}" if src.type == "table" else src.path


@dataclass(frozen=True)
class _Trace:
    columns: tuple[str, ...]
    how: How
    detail: str


_Traces = dict[str, "_Trace"] | str  # per output column, or why there are none


def _traces(view: FeatureView, source: DataFrame | None, transformed: DataFrame | None) -> _Traces:
    if view.transformation is None:
        return {}
    if source is None:
        return (f"derived from Spark's analyzed plan of the {view.transformation.type} "
                "transformation, which needs the source frame; `sparkfs materialize` records it")
    try:
        from sparkfs.offline.source import apply_transformation

        if transformed is None:
            transformed = apply_transformation(source.sparkSession, view, source)
        return _PlanWalk(source, transformed).traces()
    except Exception as exc:  # lineage describes; a plan it cannot read is reported, not raised
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the transformation's plan could not be analysed: {first[:300]}"


def _plain_feature(feature: str, declared: str, source_name: str, traces: _Traces,
                   source: DataFrame | None) -> ColumnLineage:
    if isinstance(traces, str):
        return ColumnLineage(feature, (), "unknown", traces)
    if not traces:  # no transformation: the feature is the source column of its name
        cast = _widening(source, feature, declared)
        if cast:
            return ColumnLineage(feature, ((source_name, feature),), "transformation", cast)
        return ColumnLineage(feature, ((source_name, feature),), "identity", f"source column {feature}")
    trace = traces.get(feature)
    if trace is None:
        return ColumnLineage(feature, (), "unknown", f"the transformation's output has no column {feature}")
    return ColumnLineage(feature, tuple((source_name, c) for c in trace.columns), trace.how, trace.detail)


def _widening(source: DataFrame | None, column: str, declared: str) -> str:
    """The cast the offline store applies to a narrower source integer/float column, if any."""
    if source is None:
        return ""
    from sparkfs.offline.conform import SPARK_TYPES

    fields = {f.name: f.dataType for f in source.schema.fields}
    actual, wanted = fields.get(column), SPARK_TYPES.get(declared)
    if actual is None or wanted is None or actual == wanted:
        return ""
    return f"CAST({column} AS {wanted.simpleString().upper()}) (widened to the declared {declared})"


def _aggregate_feature(feature: str, function: str, column: str | None, window: str, grain: str,
                       source_name: str, traces: _Traces) -> ColumnLineage:
    what = f"{function}({column or '*'}) over a sliding {window} window at {grain} grain"
    if column is None:
        return ColumnLineage(feature, (), "aggregation", f"{what} (counts rows, reads no column)")
    if isinstance(traces, str):
        return ColumnLineage(feature, (), "unknown", f"{what}; the column's origin: {traces}")
    if not traces:
        return ColumnLineage(feature, ((source_name, column),), "aggregation", what)
    trace = traces.get(column)
    if trace is None:
        return ColumnLineage(feature, (), "unknown", f"{what}; the transformation's output has no column {column}")
    if trace.how == "unknown":
        return ColumnLineage(feature, (), "unknown", f"{what}; {column}: {trace.detail}")
    detail = what if trace.how == "identity" else f"{what}; {column} = {trace.detail}"
    return ColumnLineage(feature, tuple((source_name, c) for c in trace.columns), "aggregation", detail)


def _seq(seq: Any) -> list[Any]:
    return [seq.apply(i) for i in range(seq.size())]


def _clean(sql: str) -> str:
    return _QUALIFIER.sub("", sql)


class _PlanWalk:
    """One pass over the analyzed plan, then a trace per output attribute (see module doc)."""

    def __init__(self, source: DataFrame, out: DataFrame) -> None:
        source_plan = source._jdf.queryExecution().analyzed()
        self._source_plan = source_plan
        self._source = {a.exprId().id(): a.name() for a in _seq(source_plan.output())}
        self._plan = out._jdf.queryExecution().analyzed()
        self._aliases: dict[int, Any] = {}
        self._opaque: dict[int, str] = {}
        self._walk(self._plan)

    def _walk(self, node: Any) -> None:
        if node.fastEquals(self._source_plan):
            return  # the source relation: where traces end
        kind = node.getClass().getSimpleName()
        outputs = [a.exprId().id() for a in _seq(node.output())]
        if kind in _OPAQUE_NODES:
            for expr_id in outputs:
                self._opaque.setdefault(expr_id, kind)
        elif outputs and set(outputs) <= self._source.keys() and not node.children().nonEmpty():
            return  # a leaf with the source's attributes
        for expr in _seq(node.expressions()):
            if expr.getClass().getSimpleName() == "Alias":
                self._aliases[expr.exprId().id()] = expr
        for child in _seq(node.children()):
            self._walk(child)

    def traces(self) -> dict[str, _Trace]:
        return {a.name(): self._trace(a.exprId().id(), set()) for a in _seq(self._plan.output())}

    def _trace(self, expr_id: int, seen: set[int]) -> _Trace:
        if expr_id in self._opaque:
            return _Trace((), "unknown", f"it passes through a {self._opaque[expr_id]}, whose output "
                          "does not say which input each row came from")
        if expr_id in self._source:
            return _Trace((self._source[expr_id],), "identity", f"source column {self._source[expr_id]}")
        alias = self._aliases.get(expr_id)
        if alias is None or expr_id in seen:
            return _Trace((), "unknown", "it is not computed from a column of the source")
        child = alias.child()
        classes, refs = _expression_parts(child)
        if not refs:
            return _Trace((), "unknown", f"{_clean(child.sql())} reads no source column")
        subs = [self._trace(ref, seen | {expr_id}) for ref in refs]
        unknown = next((s for s in subs if s.how == "unknown"), None)
        if unknown is not None:
            return unknown
        columns = tuple(dict.fromkeys(c for s in subs for c in s.columns))
        if child.getClass().getSimpleName() == "AttributeReference":
            return subs[0]  # a rename
        mine: How = "aggregation" if classes & _AGGREGATE_EXPRESSIONS else "transformation"
        how = max([mine, *(s.how for s in subs)], key=lambda h: _RANK[h])
        inner = [s.detail for s in subs if s.how != "identity"]
        detail = _clean(child.sql()) + (f" (from {'; '.join(inner)})" if inner else "")
        return _Trace(columns, how, detail)


def _expression_parts(expr: Any) -> tuple[set[str], list[int]]:
    """The class names in an expression tree and the expression ids of the attributes it reads."""
    classes: set[str] = set()
    refs: list[int] = []
    stack = [expr]
    while stack:
        current = stack.pop()
        name = current.getClass().getSimpleName()
        classes.add(name)
        if name == "AttributeReference":
            refs.append(current.exprId().id())
        stack.extend(reversed(_seq(current.children())))  # left to right, as written
    return classes, list(dict.fromkeys(refs))
