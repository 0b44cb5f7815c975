"""Shape a transformed source into offline-store rows, checking it against the definition.

Every check runs on the schema only (no Spark job), so a drifted source fails before anything
is written, naming the column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkfs.definitions import FeatureView, JoinKey
from sparkfs.errors import SchemaMismatchError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "CREATED_AT", "EVENT_DATE", "EVENT_TIMESTAMP", "INGESTED_AT", "SOURCE_ROWS", "SPARK_TYPES",
    "conform_events", "conform_features",
]

EVENT_TIMESTAMP = "event_timestamp"
EVENT_DATE = "event_date"
INGESTED_AT = "_ingested_at"
#: Stored column of a view with a ``created_timestamp_column``: when the row was recorded.
CREATED_AT = "_created_at"
#: Batch-only column (never stored): how many source rows collapsed into a row of a plain view.
SOURCE_ROWS = "_source_rows"

SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "int32": T.IntegerType(),
    "int64": T.LongType(),
    "float32": T.FloatType(),
    "float64": T.DoubleType(),
    "bool": T.BooleanType(),
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
}

_WIDENS_TO: dict[str, tuple[type[T.DataType], ...]] = {
    "int64": (T.IntegerType, T.ShortType, T.ByteType),
    "int32": (T.ShortType, T.ByteType),
    "float64": (T.FloatType,),
}


def _field(df: DataFrame, view: FeatureView, column: str, role: str) -> T.StructField:
    fields = {f.name: f for f in df.schema.fields}
    if column not in fields:
        raise SchemaMismatchError(
            f"feature view {view.name!r}: {role} column {column!r} is missing from the source after "
            f"the transformation (it has: {', '.join(fields)}); update the source or the definition"
        )
    return fields[column]


def _typed(df: DataFrame, view: FeatureView, column: str, declared: str, role: str) -> Column:
    actual = _field(df, view, column, role).dataType
    wanted = SPARK_TYPES[declared]
    if actual == wanted:
        return F.col(column)
    if isinstance(actual, _WIDENS_TO.get(declared, ())):
        return F.col(column).cast(wanted)
    raise SchemaMismatchError(
        f"feature view {view.name!r}: {role} column {column!r} is {actual.simpleString()} in the "
        f"source but the definition says {declared}; cast it in the transformation or change the type"
    )


def _instant(df: DataFrame, view: FeatureView, column: str, role: str) -> Column:
    actual = _field(df, view, column, role).dataType
    if isinstance(actual, T.TimestampType):
        return F.col(column)
    if isinstance(actual, T.TimestampNTZType | T.DateType):
        return F.col(column).cast(T.TimestampType())  # session time zone is UTC
    raise SchemaMismatchError(
        f"feature view {view.name!r}: {role} column {column!r} is {actual.simpleString()}; "
        "it must be a timestamp (or date); parse it in the transformation"
    )


def _event_time(df: DataFrame, view: FeatureView) -> Column:
    return _instant(df, view, view.timestamp_column, "timestamp")


def conform_events(df: DataFrame, view: FeatureView, keys: list[JoinKey], value_columns: list[str]) -> DataFrame:
    """Raw events for an aggregation view: keys, ``event_timestamp`` and the aggregated columns."""
    cols = [_typed(df, view, k.name, k.type, "join key").alias(k.name) for k in keys]
    cols.append(_event_time(df, view).alias(EVENT_TIMESTAMP))
    for name in dict.fromkeys(value_columns):
        _field(df, view, name, "aggregated")
        cols.append(F.col(name))
    return df.select(*cols)


def conform_features(df: DataFrame, view: FeatureView, keys: list[JoinKey]) -> DataFrame:
    """Offline rows for a plain view: keys, ``event_timestamp`` and the features, typed.

    Rows with a null key or event time are dropped (they can never be joined). Several source
    rows with the same keys and event time collapse to one, chosen deterministically so reruns
    write identical tables: the latest ``created_timestamp_column`` when the view declares one
    (stored as :data:`CREATED_AT`; a null one counts as oldest), then the greatest feature
    tuple. A knowing-time view (``availability: created``) keeps one row per keys, event time
    *and* created time: every record, since a training set at T must see the one known at T. :data:`SOURCE_ROWS` says how many source rows each row stands for (the quality
    gate's ``unique`` rule reads it); it is not stored.
    """
    key_cols = [_typed(df, view, k.name, k.type, "join key").alias(k.name) for k in keys]
    feature_cols = [_typed(df, view, f.name, f.type, "feature").alias(f.name) for f in view.features]
    created = view.created_timestamp_column
    created_cols = [] if created is None else [_instant(df, view, created, "created timestamp").alias(CREATED_AT)]
    shaped = df.select(*key_cols, _event_time(df, view).alias(EVENT_TIMESTAMP), *feature_cols, *created_cols)
    shaped = shaped.where(F.col(EVENT_TIMESTAMP).isNotNull())
    for key in keys:
        shaped = shaped.where(F.col(key.name).isNotNull())
    group = [k.name for k in keys] + [EVENT_TIMESTAMP]
    ranked = [f.name for f in view.features]
    if view.availability == "created":
        group.append(CREATED_AT)  # knowing time keeps every record: what was known when
    elif created is not None:
        ranked.insert(0, CREATED_AT)
    best = F.max(F.struct(*[F.col(n) for n in ranked])).alias("_v")
    out = [*group[: len(keys) + 1], *(f.name for f in view.features)]
    out += [c for c in [CREATED_AT] if created is not None]
    columns = {n: F.col(n) for n in group} | {n: F.col(f"_v.{n}").alias(n) for n in ranked}
    return shaped.groupBy(*group).agg(best, F.count(F.lit(1)).alias(SOURCE_ROWS)).select(
        *[columns[n] for n in out], SOURCE_ROWS)
