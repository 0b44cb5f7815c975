"""A feature view's columns, derived once per definition version: keys, features, aggregates.

Materialization (the table's fingerprint), the sync (what it encodes), the serving catalog
(what it decodes) and training sets (which columns are join keys) all read a view's shape
from :class:`ViewSchema`, so they cannot disagree about names, order or types.

Types are sparkfs feature types (``int64``, ``float64``, ``string``, ...). A plain feature has
its declared type. An aggregate's type follows its function and, for ``sum``, ``min``, ``max``
and ``last``, its source column's type, which the definition does not declare: it is known
once the table is written (``column_types``, from the Delta schema). ``count`` and
``approx_count_distinct`` are ``int64``, ``avg`` is ``float64``; ``sum`` is ``int64`` over an
integer column and ``float64`` otherwise (Spark's ``sum``); ``min``/``max``/``last`` keep the
column's type. Until the table exists those aggregates are :data:`UNKNOWN`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sparkfs.definitions.models import FeatureView, JoinKey, window_label

__all__ = ["UNKNOWN", "SchemaColumn", "ViewSchema", "aggregate_type", "spark_to_feature_type"]

#: The type of an aggregate whose source column's type is not known yet (no table written).
UNKNOWN = "unknown"

#: Stored columns every offline table has besides keys and features.
EVENT_TIMESTAMP = "event_timestamp"
CREATED_AT = "_created_at"

_SPARK_TYPES = {
    "string": "string", "int": "int32", "integer": "int32", "bigint": "int64", "long": "int64",
    "smallint": "int32", "tinyint": "int32", "float": "float32", "double": "float64",
    "boolean": "bool", "timestamp": "timestamp", "date": "date",
}
_INTEGRAL = {"int32", "int64"}


def spark_to_feature_type(spark_type: str) -> str:
    """A Spark ``simpleString`` type as a sparkfs feature type (unchanged when it has none,
    e.g. ``decimal(10,2)``; the online encoder then refuses it with its own message)."""
    return _SPARK_TYPES.get(spark_type, spark_type)


def aggregate_type(function: str, source_type: str | None) -> str:
    """The sparkfs type of ``function`` over a column of ``source_type`` (see the module doc)."""
    if function in ("count", "approx_count_distinct"):
        return "int64"
    if function == "avg":
        return "float64"
    if source_type is None:
        return UNKNOWN
    if function == "sum":
        return "int64" if source_type in _INTEGRAL else "float64"
    return source_type


@dataclass(frozen=True)
class SchemaColumn:
    """One column of a view: its name, its sparkfs type, and how it is made."""

    name: str
    type: str
    #: ``key``, ``feature`` or ``aggregate``.
    role: str
    #: What the definition declares: a plain feature's or key's type, an aggregate's
    #: ``function(column)`` (e.g. ``sum(amount)``; ``count(None)`` for a count of rows).
    declared: str = ""


@dataclass(frozen=True)
class ViewSchema:
    """The shape of one feature view definition version; see the module docstring."""

    view: str
    keys: tuple[SchemaColumn, ...]
    features: tuple[SchemaColumn, ...]
    #: The table keeps ``_created_at`` (a ``created_timestamp_column`` is declared).
    created: bool
    availability: str

    @classmethod
    def of(cls, view: FeatureView, join_keys: Sequence[JoinKey],
           column_types: Mapping[str, str] | None = None) -> ViewSchema:
        """Derive the schema of ``view`` whose entities' join keys are ``join_keys``.

        Args:
            view: the definition version.
            join_keys: its entities' join keys, in order (from the repository or the registry).
            column_types: the written table's column types (Spark ``simpleString``s or sparkfs
                types), when it exists: the types the table holds (and the online store
                encodes), which type the aggregates whose type depends on the source column.
        """
        types = {name: spark_to_feature_type(t) for name, t in (column_types or {}).items()}
        keys = tuple(SchemaColumn(k.name, types.get(k.name, k.type), "key", k.type) for k in join_keys)
        features = [SchemaColumn(f.name, types.get(f.name, f.type), "feature", f.type) for f in view.features]
        if view.aggregations is not None:
            for agg in view.aggregations.features:
                for window in view.aggregations.windows:
                    name = f"{agg.name}_{window_label(window)}"
                    dtype = types.get(name) or aggregate_type(agg.function, None)
                    features.append(SchemaColumn(name, dtype, "aggregate", f"{agg.function}({agg.column})"))
        return cls(view.name, keys, tuple(features), view.created_timestamp_column is not None,
                   view.availability)

    @property
    def key_names(self) -> list[str]:
        return [c.name for c in self.keys]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    def declared_columns(self) -> list[tuple[str, str]]:
        """(name, declared type) of every stored column, in table order: what the offline
        table's fingerprint is computed from. An aggregate declares its expression, not a type."""
        cols = [(c.name, c.declared) for c in self.keys]
        cols.append((EVENT_TIMESTAMP, "timestamp"))
        cols += [(c.name, c.declared) for c in self.features if c.role == "feature"]
        if self.created:
            # knowing time keeps every record, a different table than one row per keys and E
            cols.append((CREATED_AT, "timestamp" if self.availability == "event" else "timestamp, every record"))
        cols += [(c.name, c.declared) for c in self.features if c.role == "aggregate"]
        return cols

    def online_features(self) -> list[tuple[str, str]]:
        """(name, type) of the features the online store holds, in encoding order."""
        return [(c.name, c.type) for c in self.features]
