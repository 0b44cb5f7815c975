"""Feature definitions: the models (:mod:`.models`) and the YAML loader (:mod:`.loader`).

``from sparkfs.definitions import FeatureView`` reads the models; the loader that turns a
feature repository's YAML files into them is :mod:`sparkfs.definitions.loader`, and the
registry's store of applied versions is :mod:`sparkfs.registry.versions`.
"""

from __future__ import annotations

from sparkfs.definitions.models import (
    KINDS,
    QUARANTINE_DIR,
    AggFeatureDef,
    AggregationsDef,
    AllowedValues,
    Definition,
    Entity,
    Expectation,
    Feature,
    FeatureService,
    FeatureType,
    FeatureView,
    Freshness,
    JoinKey,
    MaxChange,
    MaxNullFraction,
    NotNull,
    PythonTransformation,
    Range,
    Regex,
    RowCount,
    Source,
    SqlPredicate,
    SqlTransformation,
    Transformation,
    Unique,
    canonical_spec,
    definition_version,
    spec_version,
    window_label,
)

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
