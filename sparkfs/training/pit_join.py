"""Point-in-time join of a spine against feature tables, by one sort per key set.

For a spine row (keys K, time T) and a source with ttl and availability delay D, the value
comes from the row with keys K and the greatest event time E such that ``E + D <= T`` and
(no ttl, or ``E > T - ttl``); ties on E go to the latest ``_created_at`` (sources with a
created time), then the latest ``_ingested_at``; no such row gives nulls. A source with
``availability="created"`` (knowing time) also needs ``_created_at <= T``. See
docs/point-in-time.md.

Why a sort and not a join: a range join (``spine.key = f.key AND f.E <= spine.T``) emits
every spine row times the key's whole feature history before keeping one row. Here spine
rows and feature rows are unioned, each feature row placed at its availability time E + D,
and sorted per key by (time, feature before spine at equal time, _created_at, _ingested_at). The
last feature struct seen before a spine row, carried forward with ``last(..., ignorenulls)`` over
a running window, is exactly the wanted row; the ttl is then checked on its carried E. A
knowing-time source places each row at ``max(E + D, created)``, which no longer orders rows by
E: there the running ``max`` of ``(E, created, ingested, ...)`` is carried instead. Cost is
one shuffle and one sort of (spine + features) per key set, whatever the history length.
That sort is preceded by a radix sort on a single long (see ``_presort_key``) that leaves the
rows nearly in order, because Spark's sort is slow on many rows sharing a key.

The spine's own columns travel through the sort inside one struct, so there is no join back
to the spine, no row id to generate (duplicates stay distinct rows) and nothing that a stage
recomputation could renumber. All time arithmetic is on UTC epoch microseconds
(``unix_micros``), so the session time zone cannot change a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql.types import AtomicType, DataType, DateType

from sparkfs.training.feature_source import CREATED_AT, EVENT_TIMESTAMP, INGESTED_AT, FeatureSource
from sparkfs.training.key_groups import KeyGroup, group_by_keys, join_key_types
from sparkfs.training.spine_validation import validate_spine

__all__ = ["FeatureSource", "point_in_time_join", "validate_spine"]

_MICROS_PER_DAY = 86_400_000_000
#: Spine rows with a null key are spread over this many partitions instead of one.
_NULL_KEY_BUCKETS = 64

# Internal column names: top-level only; the spine's columns are nested in _SPINE, so these
# can never collide with them.
_T, _KIND, _CR, _ING, _BUCKET, _SPINE, _KEY_HASH = (
    "__sfs_t",
    "__sfs_kind",
    "__sfs_cr",
    "__sfs_ing",
    "__sfs_bucket",
    "__sfs_spine",
    "__sfs_h",
)
#: Bits of the key hash and of the coarse time in the pre-sort key (see _presort_key).
_HASH_BITS, _COARSE_T_BITS, _COARSE_T_SHIFT = 23, 40, 12
_FEATURE_ROW, _SPINE_ROW = 0, 1


def _quoted(name: str) -> Column:
    """A top-level column by exact name, even with dots or backticks in it."""
    return F.col("`" + name.replace("`", "``") + "`")


def _micros(column: Column, dtype: DataType) -> Column:
    """UTC epoch microseconds of a timestamp, or of midnight UTC for a date."""
    if isinstance(dtype, DateType):
        return F.unix_date(column).cast("long") * F.lit(_MICROS_PER_DAY)
    return F.unix_micros(column)


def _td_micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _key_col(i: int) -> str:
    return f"__sfs_k{i}"


def _src_col(i: int) -> str:
    return f"__sfs_s{i}"


def _spine_rows(
    spine: DataFrame, group: KeyGroup, types: dict[str, DataType], ts: str
) -> DataFrame:
    """Spine rows of the union: partition keys, time T, and all spine columns in one struct."""
    schema = spine.schema
    keys = [_quoted(k).cast(types[k]) for k in group.keys]
    any_null = reduce(lambda a, b: a | b, [k.isNull() for k in keys])
    # Null keys match nothing; hash such rows over a few buckets (deterministically, so a
    # recomputed stage routes them the same way) so they cannot pile up in one task.
    hashable = [_quoted(f.name) for f in schema.fields if isinstance(f.dataType, AtomicType)]
    bucket = F.when(any_null, F.pmod(F.xxhash64(*hashable), F.lit(_NULL_KEY_BUCKETS)) + 1)
    return spine.select(
        *[k.alias(_key_col(i)) for i, k in enumerate(keys)],
        bucket.otherwise(0).cast("int").alias(_BUCKET),
        _micros(_quoted(ts), schema[ts].dataType).alias(_T),
        F.lit(_SPINE_ROW).alias(_KIND),
        F.lit(None).cast("long").alias(_ING),
        F.struct(*[_quoted(n) for n in schema.fieldNames()]).alias(_SPINE),
    )


def _feature_rows(
    source: FeatureSource, index: int, group: KeyGroup, types: dict[str, DataType]
) -> DataFrame:
    """A source's rows of the union, placed at their availability time: E + D, or for a
    knowing-time source ``max(E + D, created)`` (rows without a created time never are)."""
    df = source.df
    e_micros = _micros(_quoted(EVENT_TIMESTAMP), df.schema[EVENT_TIMESTAMP].dataType)
    created = F.unix_micros(_quoted(CREATED_AT)) if source.created else F.lit(None).cast("long")
    ingested = F.unix_micros(_quoted(INGESTED_AT))
    keys = [_quoted(k).cast(types[k]) for k in group.keys]
    usable = reduce(lambda a, b: a & b, [k.isNotNull() for k in keys], e_micros.isNotNull())
    available = e_micros + F.lit(_td_micros(source.availability_delay))
    # the event timestamp itself travels only when it is an output: every byte of a feature
    # row is shuffled and sorted
    stamp = [] if source.timestamp_output is None else [_quoted(EVENT_TIMESTAMP).alias("ts")]
    order: list[Column] = []
    if source.availability == "created":
        usable = usable & created.isNotNull()
        available = F.greatest(available, created)
        # the running max of the payload is the wanted row: its leading fields are the ranking
        order = [created.alias("c"), ingested.alias("i")]
    payload = F.struct(
        e_micros.alias("e"),
        *order,
        *stamp,
        *[_quoted(f).alias(f"v{j}") for j, f in enumerate(source.features)],
    )
    return df.where(usable).select(
        *[k.alias(_key_col(i)) for i, k in enumerate(keys)],
        F.lit(0).alias(_BUCKET),
        available.alias(_T),
        F.lit(_FEATURE_ROW).alias(_KIND),
        # only groups with a created time sort by it (the union fills in nulls elsewhere)
        *([created.alias(_CR)] if source.created else []),
        ingested.alias(_ING),
        payload.alias(_src_col(index)),
    )


def _carried(source: FeatureSource, index: int, window: WindowSpec) -> Column:
    """The newest row of the source available at each row of the window."""
    column = F.col(_src_col(index))
    if source.availability == "created":
        return F.max(column).over(window)
    return F.last(column, ignorenulls=True).over(window)


def _source_outputs(source: FeatureSource, index: int) -> list[Column]:
    """The source's output columns, nulled when the carried row is outside the ttl."""
    carried = F.col(_src_col(index))
    in_ttl = F.col(_T).isNotNull() & carried.isNotNull()
    if source.ttl is not None:
        in_ttl = in_ttl & (carried["e"] > F.col(_T) - F.lit(_td_micros(source.ttl)))
    outputs = [
        F.when(in_ttl, carried[f"v{j}"]).alias(name) for j, name in enumerate(source.output_names)
    ]
    if source.timestamp_output is not None:
        outputs.append(F.when(in_ttl, carried["ts"]).alias(source.timestamp_output))
    return outputs


def _presort_key() -> Column:
    """A single ``long`` that orders rows *almost* as the window needs them.

    The window sorts by (key hash, keys, bucket, T, kind, ingested). Spark compares rows first
    by an 8-byte prefix of the first sort column; rows of one key share it, so nearly every
    comparison of that sort falls back to comparing whole rows in memory, the bulk of a
    point-in-time join's time. This key is ``key hash << 40 | T >> 12`` (time in ~4 ms steps,
    clamped to 1970..2112): sorting by it alone is one radix sort, and leaves the rows in the
    window's order except within a key hash and 4 ms step, so the window's own sort that
    follows finds them already in order (Spark's TimSort: about one comparison per row).
    Correctness never depends on it: the window's sort decides the order; this only makes
    that sort cheap.
    """
    coarse = F.least(
        F.greatest(F.shiftright(F.col(_T), _COARSE_T_SHIFT), F.lit(0)),
        F.lit((1 << _COARSE_T_BITS) - 1),
    )
    return F.shiftleft(F.col(_KEY_HASH).cast("long"), _COARSE_T_BITS) + F.coalesce(coarse, F.lit(0))


def _union(spine: DataFrame, group: KeyGroup, ts: str) -> tuple[DataFrame, list[str]]:
    """The spine rows and every source's feature rows of one key set, and the key columns."""
    types = join_key_types(spine.schema, group)
    parts = [_spine_rows(spine, group, types, ts)]
    parts += [_feature_rows(s, i, group, types) for i, s in enumerate(group.sources)]
    keys = [_key_col(i) for i in range(len(group.keys))]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts), keys


def _join_group(spine: DataFrame, group: KeyGroup, ts: str) -> DataFrame:
    """One shuffle + sort: spine columns followed by every output of the group's sources."""
    union, keys = _union(spine, group, ts)
    # The key hash leads the window's partition columns (a function of the keys: it changes
    # no partition) so that the pre-sort key is in the window's order. It is computed after
    # the shuffle: it never travels.
    key_hash = F.xxhash64(*keys).bitwiseAND(F.lit((1 << _HASH_BITS) - 1)).cast("int")
    union = (
        union.repartition(*keys, _BUCKET)
        .withColumn(_KEY_HASH, key_hash)
        .sortWithinPartitions(_presort_key())
    )
    window = (
        Window.partitionBy(_KEY_HASH, *keys, _BUCKET)
        .orderBy(F.col(_T).asc_nulls_first(), F.col(_KIND),
                 *([F.col(_CR).asc_nulls_first()] if _CR in union.columns else []),
                 F.col(_ING).asc_nulls_first())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    carried = union.select(
        _T,
        _KIND,
        _SPINE,
        *[_carried(s, i, window).alias(_src_col(i)) for i, s in enumerate(group.sources)],
    ).where(F.col(_KIND) == _SPINE_ROW)
    spine_columns = [F.col(_SPINE)[n].alias(n) for n in spine.schema.fieldNames()]
    outputs = [c for i, s in enumerate(group.sources) for c in _source_outputs(s, i)]
    return carried.select(*spine_columns, *outputs)


def point_in_time_join(
    spine: DataFrame,
    sources: Sequence[FeatureSource],
    *,
    timestamp_column: str = EVENT_TIMESTAMP,
) -> DataFrame:
    """Attach to each spine row the point-in-time correct features of every source.

    Returns one row per spine row (duplicates kept), the spine's columns first in their
    order, then each source's ``output_names`` (and ``timestamp_output``) in source order.
    Sources with the same set of key columns share one shuffle and sort.

    Raises:
        ValidationError: before any Spark job, if the spine or a source cannot be joined.
    """
    validate_spine(spine, sources, timestamp_column)
    result = spine
    for group in group_by_keys(sources):
        result = _join_group(result, group, timestamp_column)
    ordered = [*spine.schema.fieldNames(), *[o for s in sources for o in s.outputs]]
    return result.select(*[_quoted(name) for name in ordered])
