"""Per-function partial aggregates: what one bucket keeps, and how buckets combine over a window.

Every supported function is *decomposable*: its value over a window can be computed from small
per-bucket partials (count, sum, min, max, latest ``(time, value)``, an HLL sketch) instead of
the raw events. This module owns that algebra and the Spark types it produces; the engine in
:mod:`sparkfs.offline.aggregation` only arranges rows and windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    NumericType,
    ShortType,
    StringType,
    StructType,
)

from sparkfs.errors import ValidationError
from sparkfs.offline.aggregation_spec import AggFeature, AggregationSpec

__all__ = ["Frames", "PartialPlan", "feature_type", "plan_partials"]

#: Internal column prefix; chosen so it cannot clash with a sensible user column.
PREFIX = "__sfa_"
_ROWS = "*"
#: Partials each function needs per bucket.
_NEEDS: dict[str, tuple[str, ...]] = {
    "count": ("cnt",),
    "sum": ("sum", "cnt"),
    "avg": ("sum", "cnt"),
    "min": ("min",),
    "max": ("max",),
    "last": ("last",),
    "approx_count_distinct": ("hll",),
}
_HLL_NATIVE = (IntegerType, LongType, StringType, BinaryType)


def _sum_type(dt: DataType) -> DataType:
    """Spark's own ``sum`` result type, fixed so window sums of bucket sums keep it."""
    if isinstance(dt, DecimalType):
        return DecimalType(min(38, dt.precision + 10), dt.scale)
    if isinstance(dt, FloatType | DoubleType):
        return DoubleType()
    return LongType()


def feature_type(feature: AggFeature, source: DataType | None) -> DataType:
    """The Spark type of ``feature``'s output columns, given its source column's type.

    Raises:
        ValidationError: the function does not apply to the column's type.
    """
    fn = feature.function
    if fn == "count":
        return LongType()
    if fn == "approx_count_distinct":
        if isinstance(source, MapType | StructType | ArrayType):
            raise _type_error(feature, source, "a scalar column (number, string, binary, date)")
        return LongType()
    if source is None:
        if fn == "avg":
            return DoubleType()
        raise ValidationError(
            f"feature {feature.name!r}: the type of {fn}({feature.column}) depends on the "
            "source column's type; pass the source schema"
        )
    if fn in ("sum", "avg"):
        if not isinstance(source, NumericType):
            raise _type_error(feature, source, "a numeric column")
        return DoubleType() if fn == "avg" else _sum_type(source)
    if isinstance(source, MapType) or source.typeName() == "variant":
        raise _type_error(feature, source, "an orderable column (not a map or variant)")
    return source


def _type_error(feature: AggFeature, source: DataType, wanted: str) -> ValidationError:
    return ValidationError(
        f"feature {feature.name!r}: {feature.function} needs {wanted}, but column "
        f"{feature.column!r} is {source.simpleString()}; change the function or the column"
    )


@dataclass(frozen=True)
class PartialPlan:
    """The partial columns of one spec over one input schema, shared between features.

    Two features over the same column (say ``sum`` and ``avg`` of ``amount``) share one ``sum``
    partial, so the bucket table stays as narrow as the distinct (column, partial) pairs.
    """

    features: tuple[AggFeature, ...]
    columns: tuple[str, ...]  # distinct source columns, "*" for counting rows
    types: dict[str, DataType]  # source column -> type
    out_types: tuple[DataType, ...]  # per feature

    def name(self, column: str, kind: str) -> str:
        return f"{PREFIX}p{self.columns.index(column)}_{kind}"

    def needed(self) -> list[tuple[str, str]]:
        """Distinct ``(column, kind)`` pairs, in a stable order."""
        pairs: dict[tuple[str, str], None] = {}
        for f in self.features:
            for kind in _NEEDS[f.function]:
                pairs[(f.column or _ROWS, kind)] = None
        return list(pairs)

    def bucket_aggs(self, ts_col: str) -> list[Column]:
        """Aggregates that roll events of one key and bucket into partials."""
        return [self._bucket_agg(c, k, ts_col).alias(self.name(c, k)) for c, k in self.needed()]

    def _bucket_agg(self, column: str, kind: str, ts_col: str) -> Column:
        if column == _ROWS:
            return F.count(F.lit(1))
        col = F.col(column)
        if kind == "cnt":
            return F.count(col)
        if kind == "sum":
            return F.sum(col).cast(_sum_type(self.types[column]))
        if kind == "min":
            return F.min(col)
        if kind == "max":
            return F.max(col)
        if kind == "last":
            # Struct order compares time first, then value (nulls lowest): the latest event
            # wins, ties on time go to the greatest value. Null values are kept on purpose.
            return F.max(F.struct(F.col(ts_col).alias("t"), col.alias("v")))
        return F.hll_sketch_agg(_hll_input(col, self.types[column]))

    def window_value(self, feature: AggFeature, index: int, width: int, frames: Frames) -> Column:
        """The feature over the ``width`` buckets ending at each row's boundary.

        Invertible aggregates (count, sum, avg) and ``last`` use running (unbounded preceding)
        frames, which Spark updates in O(1) per row: a bucket adds its partial on its own row
        and subtracts it on the row where it leaves the window. min, max and HLL are not
        invertible and use a sliding range frame, whose cost grows with the buckets it spans.
        """
        column = feature.column or _ROWS

        def part(kind: str) -> Column:
            return F.col(self.name(column, kind))

        def running_net(kind: str) -> Column:
            return F.sum(frames.net(part(kind), width)).over(frames.running)

        fn, out = feature.function, self.out_types[index]
        if fn in ("count", "sum", "avg"):
            n = F.coalesce(running_net("cnt"), F.lit(0)).cast(LongType())
            if fn == "count":
                return n
            total = running_net("sum")
            if fn == "sum":
                return F.when(n > 0, total).cast(out)
            return F.when(n > 0, total.cast(DoubleType()) / n.cast(DoubleType()))
        if fn == "last":
            latest = F.max(frames.entering(part("last"))).over(frames.running)
            return F.when(frames.within(latest.getField("t"), width), latest.getField("v"))
        sliding = frames.sliding(width)
        if fn == "min":
            return F.min(frames.entering(part("min"))).over(sliding)
        if fn == "max":
            return F.max(frames.entering(part("max"))).over(sliding)
        sketch = F.hll_union_agg(frames.entering(part("hll"))).over(sliding)
        return F.coalesce(F.hll_sketch_estimate(sketch), F.lit(0)).cast(LongType())


@dataclass(frozen=True)
class Frames:
    """The row layout the engine feeds to :meth:`PartialPlan.window_value`.

    Rows are ordered per key by boundary index ``idx``; ``offset`` is 0 on a bucket's own row
    and ``w/g`` on the row where it leaves window ``w`` (those rows carry the same partials).
    """

    ordered: WindowSpec
    idx: str
    offset: str
    grain_us: int

    @property
    def running(self) -> WindowSpec:
        return self.ordered.rangeBetween(Window.unboundedPreceding, Window.currentRow)

    def sliding(self, width: int) -> WindowSpec:
        return self.ordered.rangeBetween(-(width - 1), 0)

    def entering(self, partial: Column) -> Column:
        """The partial on the bucket's own row only."""
        return F.when(F.col(self.offset) == 0, partial)

    def net(self, partial: Column, width: int) -> Column:
        """+partial where the bucket enters, -partial where it leaves a ``width`` window."""
        offset = F.col(self.offset)
        return F.when(offset == 0, partial).when(offset == width, -partial)

    def within(self, event_time: Column, width: int) -> Column:
        """Whether an event time lies in ``(b - width, b]`` for the row's boundary ``b``."""
        oldest = (F.col(self.idx) - F.lit(width)) * F.lit(self.grain_us)
        return F.unix_micros(event_time) > oldest


def _hll_input(col: Column, dt: DataType) -> Column:
    """``hll_sketch_agg`` takes int, bigint, string or binary; map anything else onto those."""
    if isinstance(dt, _HLL_NATIVE):
        return col
    if isinstance(dt, ByteType | ShortType):
        return col.cast(IntegerType())
    return col.cast(StringType())


def plan_partials(spec: AggregationSpec, schema: StructType) -> PartialPlan:
    """Check the spec's columns against ``schema`` and lay out the partials.

    Raises:
        ValidationError: a column is missing or has a type its function cannot use.
    """
    available = {f.name: f.dataType for f in schema.fields}
    out_types: list[DataType] = []
    for feature in spec.features:
        if feature.column is not None and feature.column not in available:
            raise ValidationError(
                f"feature {feature.name!r}: column {feature.column!r} is not in the events; "
                f"available columns: {sorted(available)}; fix the column name or the source"
            )
        source = available.get(feature.column) if feature.column is not None else None
        out_types.append(feature_type(feature, source))
    columns = _distinct([f.column or _ROWS for f in spec.features])
    types = {c: available[c] for c in columns if c != _ROWS}
    return PartialPlan(spec.features, tuple(columns), types, tuple(out_types))


def _distinct(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
