"""Training sets: point-in-time joins over pinned Delta versions, recorded for reproduction.

:func:`build_training_set` resolves the requested features to feature views, pins every
feature table to one Delta version (:func:`sparkfs.training.inputs.pinned_version`) and joins
with :func:`sparkfs.training.pit_join.point_in_time_join`. The result carries what it read,
so :func:`reproduce_training_set` can rebuild a recorded one row for row later, even after the
tables were backfilled or the definitions changed; :func:`write_training_set` writes and
records one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkfs.definitions import FeatureView, definition_version
from sparkfs.definitions.loader import FeatureRef
from sparkfs.definitions.schema import ViewSchema
from sparkfs.errors import ValidationError
from sparkfs.pipeline.materialize import offline_table
from sparkfs.pipeline.outputs import check_output, protected_locations
from sparkfs.registry.outputs import OutputStore
from sparkfs.registry.training_sets import TrainingSetRecord, TrainingSetStore
from sparkfs.training.feature_source import FeatureSource
from sparkfs.training.inputs import (
    AsOf,
    pinned_version,
    read_spine,
    readable_version,
    spine_with_timestamp,
)
from sparkfs.training.pit_join import point_in_time_join, validate_spine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = [
    "TrainingSet", "build_training_set", "reproduce_training_set", "resolve_refs", "write_training_set",
]

FORMATS = ("delta", "parquet")


@dataclass(frozen=True)
class TrainingSet:
    df: DataFrame
    features: list[str]                  # view:feature, in output order
    table_versions: dict[str, int]       # feature view -> Delta version read
    definition_versions: dict[str, str]  # feature view -> definition version used
    keys: dict[str, list[str]]           # feature view -> its join key columns



def _group(refs: list[FeatureRef]) -> dict[str, list[FeatureRef]]:
    grouped: dict[str, list[FeatureRef]] = {}
    for ref in refs:
        grouped.setdefault(ref.view, []).append(ref)
    return grouped


def build_training_set(
    spark: SparkSession,
    workspace: Workspace,
    spine: DataFrame,
    *,
    refs: list[FeatureRef],
    as_of: AsOf = None,
    views: dict[str, FeatureView] | None = None,
    keys: Mapping[str, Sequence[str]] | None = None,
    timestamp_column: str = "event_timestamp",
    include_timestamps: bool = False,
) -> TrainingSet:
    """Join ``refs`` onto ``spine`` point-in-time correctly; see the module docstring.

    ``views`` and ``keys`` override the repository's definitions and their join keys
    (reproduction uses the recorded ones).
    """
    if not refs:
        raise ValidationError("request at least one feature (features=[...] or feature_service=...)")
    sources, table_versions, definition_versions, view_keys = [], {}, {}, {}
    for view_name, view_refs in _group(refs).items():
        view = (views or {}).get(view_name) or workspace.repository.feature_view(view_name)
        table = offline_table(workspace, view)
        version = pinned_version(spark, table, view_name, as_of)
        df = readable_version(spark, table, view_name, version)
        recorded = (keys or {}).get(view_name)
        names = tuple(recorded) if recorded is not None else tuple(
            ViewSchema.of(view, workspace.repository.join_keys(view)).key_names if views is None
            else _keys_from_table(df))
        sources.append(FeatureSource(
            name=view_name, df=df, keys=names,
            features=tuple(r.feature for r in view_refs),
            output_names=tuple(r.column for r in view_refs),
            ttl=view.ttl, availability_delay=view.availability_delay,
            timestamp_output=f"{view_name}__event_timestamp" if include_timestamps else None,
            created=view.created_timestamp_column is not None, availability=view.availability,
        ))
        table_versions[view_name] = version
        definition_versions[view_name] = definition_version(view)
        view_keys[view_name] = list(names)
    validate_spine(spine, sources, timestamp_column)
    joined = point_in_time_join(spine, sources, timestamp_column=timestamp_column)
    return TrainingSet(joined, [r.qualified for r in refs], table_versions, definition_versions, view_keys)


def _keys_from_table(df: DataFrame) -> list[str]:
    """Join keys of a training set recorded before its keys were: the stored columns before
    ``event_timestamp`` (the offline table's layout, :meth:`ViewSchema.declared_columns`)."""
    names = df.columns
    return names[: names.index("event_timestamp")]



def resolve_refs(workspace: Workspace, features: list[str] | None, feature_service: str | None) -> list[FeatureRef]:
    """Features named directly, or a feature service's.

    In production (with governance enabled) every feature view read must be approved at its
    repository version, and for a service also the service's current version: a draft or
    deprecated view is refused whichever form names it (docs/governance.md). The sandbox may
    read anything.

    Raises:
        GovernanceError: a service or view version is not approved (the refusal is audited).
    """
    if bool(features) == bool(feature_service):
        raise ValidationError("give either features (view:feature ...) or a feature service, not both or neither")
    if feature_service:
        refs = workspace.repository.service_features(feature_service)
        if workspace.namespace == "production":
            from sparkfs.governance import require_service_approved

            require_service_approved(workspace, feature_service)
        return refs
    assert features is not None
    refs = workspace.repository.resolve(features)
    if workspace.namespace == "production":
        from sparkfs.definitions import definition_version
        from sparkfs.governance.enforcement import require_approved

        for name in dict.fromkeys(r.view for r in refs):
            view = workspace.repository.feature_view(name)
            require_approved(workspace, "feature_view", name, definition_version(view))
    return refs


def _check_out(spark: SparkSession, workspace: Workspace, out: str, spine: str, fmt: str,
               overwrite: bool) -> None:
    """Before any work: ``out`` is a new path, or a training set sparkfs wrote (or --overwrite),
    and never the store, a view's source or the spine (see :mod:`sparkfs.pipeline.outputs`)."""
    if fmt not in FORMATS:
        raise ValidationError(f"--format {fmt!r}: use delta or parquet")
    protected = protected_locations(workspace.config, workspace.repository, reading=[spine])
    own = OutputStore(workspace.engine).kind_of(out) == "training_set"
    check_output(spark, out, what="training set", protected=protected, own=own,
                 overwrite=overwrite)


def _save(df: DataFrame, fmt: str, out: str) -> None:
    """Replace ``out`` (already checked by :func:`_check_out`) with ``df``: a Delta training set
    replaces the earlier one's schema too (another feature list is another set of columns)."""
    writer = df.write.format(fmt).mode("overwrite")
    if fmt == "delta":
        writer = writer.option("overwriteSchema", "true")
    writer.save(out)


def write_training_set(
    spark: SparkSession, workspace: Workspace, *, spine_path: str, out: str, features: list[str] | None = None,
    feature_service: str | None = None, as_of: AsOf = None, fmt: str = "parquet",
    timestamp_column: str = "event_timestamp", include_timestamps: bool = False,
    overwrite: bool = False,
) -> TrainingSetRecord:
    """Build, write and record a training set.

    ``out`` must be a new path or a training set sparkfs wrote before; ``overwrite`` allows
    replacing anything else except the store's own locations, the views' sources and the spine.

    Raises:
        ValidationError: a bad ``out`` (before any Spark work), spine or feature list.
    """
    _check_out(spark, workspace, out, spine_path, fmt, overwrite)
    refs = resolve_refs(workspace, features, feature_service)
    spine, spine_info = read_spine(spark, spine_path)
    spine = spine_with_timestamp(spine, timestamp_column)
    ts = build_training_set(spark, workspace, spine, refs=refs, as_of=as_of, timestamp_column=timestamp_column,
                            include_timestamps=include_timestamps)
    _save(ts.df, fmt, out)
    record = TrainingSetStore(workspace.engine).record(
        user=workspace.user, spine=spine_path, out=out, format=fmt, features=ts.features,
        feature_service=feature_service, table_versions=ts.table_versions,
        definition_versions=ts.definition_versions,
        options={"spine": spine_info, "timestamp_column": timestamp_column, "keys": ts.keys,
                 "include_timestamps": include_timestamps, "namespace": workspace.namespace},
    )
    OutputStore(workspace.engine).record(out, "training_set", workspace.user, record.id)
    return record


def _recorded_views(workspace: Workspace, record: TrainingSetRecord) -> dict[str, FeatureView]:
    views = {}
    for name, version in record.definition_versions.items():
        spec = workspace.definitions.spec("feature_view", name, version)
        views[name] = FeatureView.model_validate(spec)
    return views


def rebuild(spark: SparkSession, workspace: Workspace, record: TrainingSetRecord) -> DataFrame:
    options = record.options or {}
    spine_info = options.get("spine", {})
    if spine_info.get("format") == "delta":
        spine = spark.read.format("delta").option("versionAsOf", spine_info["version"]).load(record.spine)
    else:
        spine, _ = read_spine(spark, record.spine)
    timestamp_column = options.get("timestamp_column", "event_timestamp")
    spine = spine_with_timestamp(spine, timestamp_column)
    refs = [FeatureRef(*ref.split(":", 1)) for ref in record.features]
    ts = build_training_set(
        spark, workspace, spine, refs=refs, as_of=dict(record.table_versions),
        views=_recorded_views(workspace, record), keys=options.get("keys"), timestamp_column=timestamp_column,
        include_timestamps=bool(options.get("include_timestamps")),
    )
    return ts.df


def reproduce_training_set(
    spark: SparkSession, workspace: Workspace, training_set_id: str, out: str, fmt: str | None = None,
    *, overwrite: bool = False,
) -> TrainingSetRecord:
    """Rebuild a recorded training set with the Delta versions and definitions it read.

    ``out`` follows the rules of :func:`write_training_set` (the recorded spine is protected).
    """
    store = TrainingSetStore(workspace.engine)
    record = store.get(training_set_id)
    _check_out(spark, workspace, out, record.spine, fmt or record.format, overwrite)
    namespace = (record.options or {}).get("namespace", "production")
    df = rebuild(spark, workspace.in_namespace(namespace), record)
    _save(df, fmt or record.format, out)
    OutputStore(workspace.engine).record(out, "training_set", workspace.user, record.id)
    return record
