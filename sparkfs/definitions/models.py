"""Definition models: entities, feature views, feature services and expectations.

These are the validated, frozen forms of what users write under ``conf/features/*.yaml``.
Cross-definition checks (unknown entity, duplicate names, service naming a missing feature)
live in :mod:`sparkfs.definitions.loader`; this module checks each definition on its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sparkfs.durations import Duration, format_duration

__all__ = [
    "KINDS",
    "QUARANTINE_DIR",
    "AggFeatureDef",
    "AggregationsDef",
    "AllowedValues",
    "Definition",
    "Entity",
    "Expectation",
    "Feature",
    "FeatureService",
    "FeatureType",
    "FeatureView",
    "Freshness",
    "JoinKey",
    "MaxChange",
    "MaxNullFraction",
    "NotNull",
    "PythonTransformation",
    "Range",
    "Regex",
    "RowCount",
    "Source",
    "SqlPredicate",
    "SqlTransformation",
    "Transformation",
    "Unique",
    "canonical_spec",
    "definition_version",
    "spec_version",
    "window_label",
]

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME, max_length=64)]

FeatureType = Literal["string", "int32", "int64", "float32", "float64", "bool", "timestamp", "date"]
KeyType = Literal["string", "int32", "int64"]


class _Def(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- entities
class JoinKey(_Def):
    name: Name
    type: KeyType = "int64"


class Entity(_Def):
    name: Name
    join_keys: list[JoinKey] = Field(min_length=1)
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("join_keys")
    @classmethod
    def _unique_keys(cls, keys: list[JoinKey]) -> list[JoinKey]:
        names = [k.name for k in keys]
        if len(set(names)) != len(names):
            raise ValueError(f"join key names must be unique, got {names}")
        return keys


# --------------------------------------------------------------------------- sources
class DeltaSource(_Def):
    type: Literal["delta"]
    path: str
    version: int | None = Field(
        default=None, ge=0, description="read this Delta version (time travel); default: the latest")


class ParquetSource(_Def):
    type: Literal["parquet"]
    path: str


class CsvSource(_Def):
    type: Literal["csv"]
    path: str
    options: dict[str, str] = Field(default_factory=lambda: {"header": "true"})
    timestamp_format: str | None = Field(
        default=None,
        description="Spark datetime pattern of the timestamp columns, e.g. 'dd/MM/yyyy HH:mm'",
    )


class TableSource(_Def):
    type: Literal["table"]
    table: str


Source = Annotated[DeltaSource | ParquetSource | CsvSource | TableSource, Field(discriminator="type")]


class SqlTransformation(_Def):
    """Spark SQL over the source, referenced as ``{source}`` in the query."""

    type: Literal["sql"]
    query: str

    @field_validator("query")
    @classmethod
    def _mentions_source(cls, query: str) -> str:
        if "{source}" not in query:
            raise ValueError("the query must read from {source}, e.g. SELECT ... FROM {source}")
        return query


class PythonTransformation(_Def):
    """A ``DataFrame -> DataFrame`` function given as ``package.module:function``."""

    type: Literal["python"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


Transformation = Annotated[SqlTransformation | PythonTransformation, Field(discriminator="type")]


# --------------------------------------------------------------------------- features
class Feature(_Def):
    name: Name
    type: FeatureType
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


AggFunction = Literal["count", "sum", "avg", "min", "max", "last", "approx_count_distinct"]


class AggFeatureDef(_Def):
    name: Name
    function: AggFunction
    column: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _column_needed(self) -> AggFeatureDef:
        if self.column is None and self.function != "count":
            raise ValueError(f"function {self.function} needs a column")
        return self


def window_label(window: timedelta) -> str:
    """Suffix of an aggregate's output column: ``txn_count`` over 7 days is ``txn_count_7d``."""
    return format_duration(window)


class AggregationsDef(_Def):
    grain: Literal["hour", "day"] = "hour"
    windows: list[Duration] = Field(min_length=1)
    features: list[AggFeatureDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _windows_fit_grain(self) -> AggregationsDef:
        grain = timedelta(hours=1) if self.grain == "hour" else timedelta(days=1)
        for window in self.windows:
            if window <= timedelta(0) or window % grain:
                raise ValueError(
                    f"window {format_duration(window)} is not a positive multiple of the "
                    f"grain ({self.grain}); use a whole number of {self.grain}s"
                )
        if len(set(self.windows)) != len(self.windows):
            raise ValueError("windows must be unique")
        return self

    def output_names(self) -> list[str]:
        return [f"{f.name}_{window_label(w)}" for f in self.features for w in self.windows]


# --------------------------------------------------------------------------- expectations
Severity = Literal["error", "warn"]


class _Expectation(_Def):
    name: str | None = None
    severity: Severity = "error"


class NotNull(_Expectation):
    type: Literal["not_null"]
    column: str


class Unique(_Expectation):
    type: Literal["unique"]
    columns: list[str] | None = Field(default=None, description="default: keys + event time")


class Range(_Expectation):
    type: Literal["range"]
    column: str
    min: float | None = None
    max: float | None = None


class AllowedValues(_Expectation):
    type: Literal["allowed_values"]
    column: str
    values: list[str | int | float | bool] = Field(min_length=1)


class Regex(_Expectation):
    type: Literal["regex"]
    column: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        re.compile(pattern)
        return pattern


class MaxNullFraction(_Expectation):
    type: Literal["max_null_fraction"]
    column: str
    fraction: float = Field(ge=0, le=1)


class RowCount(_Expectation):
    type: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class MaxChange(_Expectation):
    type: Literal["max_change"]
    metric: Literal["row_count", "mean"]
    column: str | None = None
    max_fraction: float = Field(gt=0)


class Freshness(_Expectation):
    type: Literal["freshness"]
    max_age: Duration


class SqlPredicate(_Expectation):
    type: Literal["sql"]
    predicate: str


Expectation = Annotated[
    NotNull | Unique | Range | AllowedValues | Regex | MaxNullFraction | RowCount | MaxChange
    | Freshness | SqlPredicate,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- views & services
#: The directory under the offline (and sandbox) root that holds the quality gate's quarantine
#: tables (``<root>/_quarantine/<view>``): no feature view may be named so, or its table would
#: share that directory with quarantined batches of other views.
QUARANTINE_DIR = "_quarantine"


class FeatureView(_Def):
    name: Name
    entities: list[Name] = Field(min_length=1)
    source: Source
    timestamp_column: str
    created_timestamp_column: str | None = Field(
        default=None,
        description="when each row was recorded or corrected: same keys and event time resolve "
        "to the latest one",
    )
    availability: Literal["event", "created"] = Field(
        default="event",
        description="created: a row is usable at T only once it was recorded (created <= T)",
    )
    transformation: Transformation | None = None
    features: list[Feature] = Field(default_factory=list)
    aggregations: AggregationsDef | None = None
    ttl: Duration | None = None
    availability_delay: Duration = timedelta(0)
    late_arrival: Duration = Field(
        default=timedelta(days=1),
        description="how far behind the watermark an incremental run looks for late rows",
    )
    owner: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    online: bool = True
    expectations: list[Expectation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_features(self) -> FeatureView:
        if self.name == QUARANTINE_DIR:
            raise ValueError(f"name {QUARANTINE_DIR!r} is reserved for the quality gate's quarantine "
                             "tables; choose another name")
        if not self.features and self.aggregations is None:
            raise ValueError("declare at least one feature or an aggregations block")
        names = self.feature_names()
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {', '.join(dupes)}")
        if self.availability == "created" and self.created_timestamp_column is None:
            raise ValueError("availability: created needs a created_timestamp_column "
                             "(the column saying when each row was recorded)")
        if self.created_timestamp_column is not None and self.aggregations is not None:
            raise ValueError("created_timestamp_column is for plain views; an aggregation view "
                             "counts every event (drop the column or correct the events in the "
                             "transformation)")
        return self

    def feature_names(self) -> list[str]:
        names = [f.name for f in self.features]
        if self.aggregations is not None:
            names += self.aggregations.output_names()
        return names


class FeatureService(_Def):
    name: Name
    features: list[str] = Field(min_length=1, description="view:feature or view:*")
    owner: str = ""
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("features")
    @classmethod
    def _reference_form(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            view, sep, feature = ref.partition(":")
            if not sep or not re.match(NAME, view) or not (feature == "*" or re.match(NAME, feature)):
                raise ValueError(f"{ref!r} is not a feature reference; write view:feature or view:*")
        return refs


Definition = Entity | FeatureView | FeatureService

KINDS: dict[type[BaseModel], str] = {
    Entity: "entity",
    FeatureView: "feature_view",
    FeatureService: "feature_service",
}


#: Fields added after versions were first recorded, left out of the canonical form while they
#: hold their default, so that adding them did not change the version of existing definitions.
_LATER_FIELDS: dict[str, Any] = {"created_timestamp_column": None, "availability": "event"}
_LATER_SOURCE_FIELDS: dict[str, Any] = {"version": None, "timestamp_format": None}


def canonical_spec(definition: Definition) -> dict[str, Any]:
    """The JSON form that versions are computed from (defaults included, durations canonical)."""
    spec = definition.model_dump(mode="json")
    if isinstance(definition, FeatureView):
        spec = {k: v for k, v in spec.items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}
        spec["source"] = {k: v for k, v in spec["source"].items()
                          if k not in _LATER_SOURCE_FIELDS or v != _LATER_SOURCE_FIELDS[k]}
    return spec


def definition_version(definition: Definition) -> str:
    """Content hash of the canonical form: key order and YAML formatting do not change it."""
    return spec_version(KINDS[type(definition)], canonical_spec(definition))


def spec_version(kind: str, spec: Mapping[str, Any]) -> str:
    """The version of a canonical ``spec`` of ``kind``, e.g. as stored in the registry (which
    checks every spec it reads against its version with this)."""
    payload = json.dumps({"kind": kind, "spec": spec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
