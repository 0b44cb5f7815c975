"""The sweep: windowed count, sum and avg in one ordered pass per key, on the executors.

For specs whose features are all invertible (``count``, ``sum``, ``avg`` over integral or
floating columns), :func:`sweep_windows` replaces the window-function plan of
:mod:`sparkfs.offline.aggregation`. The per-key bucket partials (one shuffle of the raw events,
already done by the caller) are sorted per partition by ``(keys, idx)`` and handed to Python
as Arrow batches; numpy then, per key:

1. forms the candidate boundaries, each bucket's own ``i`` and ``i + w/g`` per window, sorted
   and de-duplicated (values change nowhere else);
2. takes the key's running totals of every partial over its buckets, so the aggregate of a
   window ``(b - w, b]`` is ``S(last bucket <= b) - S(last bucket <= b - w)``: two binary
   searches per boundary and window, no scan of the window;
3. keeps a key's first row, the first row at or after ``start``, and rows where some value
   differs from the key's previous row: the same rows, with the same values, as the window
   plan (floating sums may differ in the last bits: both are running totals).

Why: the window plan explodes every bucket into ``1 + windows`` rows, sorts them per key and
evaluates two window operators over them; the sweep sorts only the buckets and emits just the
change points, in columnar batches the Delta writer consumes as they come. bench/materialize.py
measures both. Rows of one key never straddle two calls: batches are cut at key boundaries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql.types import (
    DataType,
    DecimalType,
    LongType,
    NumericType,
    StructField,
    StructType,
)

from sparkfs.offline.aggregation_partials import PartialPlan
from sparkfs.offline.aggregation_spec import AggregationSpec, feature_column_name

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["sweep_windows", "sweepable"]

_INVERTIBLE = ("count", "sum", "avg")
#: Buckets gathered before one numpy pass (Arrow hands them over in batches of 10k rows).
_CHUNK_ROWS = 262_144
#: Rows per output Arrow batch.
_OUT_ROWS = 131_072


def sweepable(spec: AggregationSpec, plan: PartialPlan) -> bool:
    """Whether every feature is ``count``, or ``sum``/``avg`` over a non-decimal number."""
    for feature in spec.features:
        if feature.function not in _INVERTIBLE:
            return False
        if feature.function != "count":
            dtype = plan.types.get(feature.column or "")
            if not isinstance(dtype, NumericType) or isinstance(dtype, DecimalType):
                return False
    return True


@dataclass(frozen=True)
class _Output:
    """One output column: ``fn`` of the partials ``cnt`` (and ``sum``) over ``width`` buckets."""

    name: str
    fn: str
    cnt: str
    sum: str | None
    width: int


@dataclass(frozen=True)
class _Sweep:
    """Everything the executors' function needs (pickled with it)."""

    keys: tuple[str, ...]
    idx: str
    partials: tuple[tuple[str, bool, str], ...]  # (name, integral, source column)
    outputs: tuple[_Output, ...]
    offsets: tuple[int, ...]
    first: int | None
    stop: int | None
    chunk_rows: int = _CHUNK_ROWS

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import numpy as np
        import pyarrow as pa

        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in batches:
            pending.append(batch)
            rows += batch.num_rows
            if rows < self.chunk_rows:
                continue
            table = pa.Table.from_batches(pending).combine_chunks()
            starts = _segment_starts(table, self.keys)
            cut = int(np.flatnonzero(starts)[-1])  # where the last (maybe partial) key begins
            if cut == 0:  # one key fills the whole chunk: keep gathering
                continue
            yield from self._emit(table.slice(0, cut), starts[:cut])
            rest = table.slice(cut)
            pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            yield from self._emit(pa.Table.from_batches(pending).combine_chunks())

    def _emit(self, table: pa.Table, starts: np.ndarray | None = None) -> Iterator[pa.RecordBatch]:
        yield from self.sweep(table, starts).to_batches(max_chunksize=_OUT_ROWS)

    def sweep(self, t: pa.Table, starts: np.ndarray | None = None) -> pa.Table:
        """The change points of complete keys, sorted by ``(keys, idx)``, as an Arrow table
        (``starts``: the rows where a key begins, when the caller has them already)."""
        import numpy as np
        import pyarrow as pa

        n = t.num_rows
        if starts is None:
            starts = _segment_starts(t, self.keys)
        key_ord = np.cumsum(starts) - 1
        seg_first = np.flatnonzero(starts)
        idx = t.column(self.idx).to_numpy()
        if n > 1 and not (np.diff(idx)[~starts[1:]] > 0).all():
            raise AssertionError("sweep input is not sorted by (keys, idx)")
        base = int(idx.min())
        span = int(idx.max()) - base + max(self.offsets) + 2
        if len(seg_first) * span >= 2**62:
            raise AssertionError("boundary codes would overflow; report this with the spec")
        code = key_ord * span + (idx - base)

        candidates = np.concatenate([code + off for off in self.offsets])
        if self.stop is not None:
            cand_idx = candidates % span + base
            candidates = candidates[cand_idx < self.stop]
        # one sorted run per offset: a stable sort (timsort) merges runs in O(n log runs)
        ordered = np.sort(candidates, kind="stable")
        fresh = np.ones(len(ordered), dtype=bool)
        fresh[1:] = ordered[1:] != ordered[:-1]
        cand = ordered[fresh]
        cand_key = cand // span
        cand_idx = cand % span + base
        hi = np.searchsorted(code, cand, side="right") - 1

        totals = {name: _running(t.column(name), key_ord, integral)
                  for name, integral, _ in self.partials}
        for name, integral, column in self.partials:
            if integral and _may_overflow(t.column(name)):
                raise ArithmeticError(
                    f"sum of column {column!r}: a window's total may exceed the bigint range "
                    "(the absolute values of one partition's events add up to 2^62 or more); "
                    "cast the column to decimal or double in the view's transformation")
        first_row = seg_first[cand_key]
        values: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        changed = np.zeros(len(cand), dtype=bool)
        same_key = np.zeros(len(cand), dtype=bool)
        same_key[1:] = cand_key[1:] == cand_key[:-1]
        lows: dict[int, np.ndarray] = {}
        sums: dict[tuple[str, int], np.ndarray] = {}

        def window(partial: str, width: int) -> np.ndarray:
            if width not in lows:
                lo = np.searchsorted(code, cand - width, side="right") - 1
                lows[width] = np.where(lo < first_row, -1, lo)
            if (partial, width) not in sums:
                sums[(partial, width)] = _window(totals[partial], hi, lows[width])
            return sums[(partial, width)]

        for out in self.outputs:
            count = window(out.cnt, out.width)
            value: np.ndarray
            valid: np.ndarray | None = None
            if out.fn == "count":
                value = count
            else:
                assert out.sum is not None
                total = window(out.sum, out.width)
                valid = count > 0
                value = total / np.where(valid, count, 1) if out.fn == "avg" else total
            changed[1:] |= _differs(value, valid)
            values[out.name] = value, valid
        keep = ~same_key | changed
        if self.first is not None:
            prev_idx = np.empty_like(cand_idx)
            prev_idx[1:] = cand_idx[:-1]
            keep |= same_key & (prev_idx < self.first)
            keep &= cand_idx >= self.first
        rows = np.flatnonzero(keep)
        picked = {k: t.column(k).take(pa.array(first_row[rows])) for k in self.keys}
        picked[self.idx] = pa.array(cand_idx[rows])
        for name, (value, valid) in values.items():
            picked[name] = pa.array(value[rows], mask=None if valid is None else ~valid[rows])
        return pa.table(picked)


def _segment_starts(table: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """Boolean per row: its key differs from the previous row's (row 0: True)."""
    import numpy as np
    import pyarrow.compute as pc

    n = table.num_rows
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
    for key in keys:
        column = table.column(key)
        if n > 1:
            differs = pc.not_equal(column.slice(1), column.slice(0, n - 1))
            starts[1:] |= differs.to_numpy(zero_copy_only=False)
    return starts


def _running(column: pa.ChunkedArray, key_ord: np.ndarray, integral: bool) -> np.ndarray:
    """Per-key running totals of a partial (null = 0): exact for integers (int64 wraps, and
    only differences within a key are used), per-key sums for floats (no cross-key error)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pa.int64() if integral else pa.float64()
    values = pc.fill_null(column.cast(kind), 0).to_numpy()
    return np.asarray(pd.Series(values).groupby(key_ord).cumsum().to_numpy())


def _may_overflow(column: pa.ChunkedArray) -> bool:
    """Whether per-key running totals of this integral partial could leave int64: the
    absolute values of the whole chunk sum to 2^62 or more (a float64 bound, far from it in
    practice; int64 arithmetic would wrap silently where Spark's ANSI mode raises)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = pc.sum(pc.abs(column.cast(pa.float64(), safe=False))).as_py()
    return total is not None and total >= 2.0**62


def _window(running: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Total of the buckets in ``(lo, hi]`` of one key (``lo = -1``: from the key's first)."""
    import numpy as np

    low = np.where(lo >= 0, running[np.maximum(lo, 0)], 0)
    return np.asarray(running[hi] - low)


def _differs(value: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Row i (i >= 1) differs from row i-1 (nulls equal each other; NaN equals NaN)."""
    import numpy as np

    now, before = value[1:], value[:-1]
    ne = now != before
    if value.dtype.kind == "f":
        ne &= ~(np.isnan(now) & np.isnan(before))
    if valid is None:
        return np.asarray(ne)
    return np.asarray((valid[1:] != valid[:-1]) | (valid[1:] & ne))


def sweep_windows(
    buckets: DataFrame,
    keys: Sequence[str],
    spec: AggregationSpec,
    plan: PartialPlan,
    *,
    idx: str,
    first: int | None,
    stop: int | None,
) -> DataFrame:
    """``keys..., idx, features...``: the change points of every key, from its bucket partials
    (one row per key and bucket, partitioned by the keys, as the caller's rollup leaves them)."""
    outputs: list[_Output] = []
    partials: dict[str, tuple[bool, str]] = {}
    fields = [buckets.schema[k] for k in keys] + [StructField(idx, LongType(), True)]
    for feature, out_type in zip(spec.features, plan.out_types, strict=True):
        column = feature.column or "*"
        cnt = plan.name(column, "cnt")
        partials[cnt] = True, column
        total = None
        if feature.function != "count":
            total = plan.name(column, "sum")
            integral = not _floating(plan.types[column])
            partials[total] = integral, column
        for window in spec.windows:
            name = feature_column_name(feature, window)
            outputs.append(_Output(name, feature.function, cnt, total,
                                   window // spec.grain_size))
            fields.append(StructField(name, out_type, feature.function != "count"))
    offsets = tuple(sorted({0, *(w // spec.grain_size for w in spec.windows)}))
    schema = StructType(fields)
    fn = _Sweep(tuple(keys), idx, tuple((n, i, c) for n, (i, c) in partials.items()),
                tuple(outputs), offsets, first, stop)
    ordered = buckets.select(*keys, idx, *partials).sortWithinPartitions(*keys, idx)
    return ordered.mapInArrow(fn, schema)


def _floating(dtype: DataType) -> bool:
    return dtype.typeName() in ("float", "double")
