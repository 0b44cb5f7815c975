"""What each job tells lineage: one call per fact, on the run handle of :func:`recorded_run`.

The jobs stay as they are plus a line where they learn something (the source they read, the
table version they wrote, the generation a sync wrote into, the training set written). These
helpers describe; a description that cannot be made (a file listing refused, a plan that does
not analyse) is noted in the run's lineage details under ``lineage_errors``, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sparkfs.lineage.columns import column_lineage, to_dict
from sparkfs.lineage.datasets import (
    offline_table_dataset,
    online_generation_dataset,
    source_dataset,
    training_set_dataset,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sparkfs.definitions import FeatureView
    from sparkfs.offline.source import SourceRead
    from sparkfs.online.sync import SyncResult
    from sparkfs.online.view import OnlineView
    from sparkfs.pipeline.runs import RunHandle
    from sparkfs.pipeline.workspace import Workspace
    from sparkfs.registry.training_sets import TrainingSetRecord

__all__ = [
    "note_quality",
    "note_source",
    "note_sync",
    "note_table_read",
    "note_table_written",
    "note_training_set",
    "note_window",
]


def _failed(run: RunHandle, what: str, exc: Exception) -> None:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    run.lineage.details.setdefault("lineage_errors", []).append(f"{what}: {type(exc).__name__}: {first[:300]}")


def note_source(run: RunHandle, spark: SparkSession, workspace: Workspace, view: FeatureView,
                source: SourceRead, *, columns: bool = True) -> None:
    """The view's source as read (its Delta version, or its files), and the column lineage of
    the view's features over it."""
    try:
        run.lineage.read(source_dataset(spark, source.location, view.source.type, source.df, source.delta_version))
    except Exception as exc:
        _failed(run, "source", exc)
    if not columns:
        return
    try:
        found = column_lineage(view, workspace.repository, source=source.df, source_name=source.location)
        run.lineage.details["columns"] = [to_dict(c) for c in found]
    except Exception as exc:
        _failed(run, "column lineage", exc)


def note_window(run: RunHandle, start: datetime | None, end: datetime | None, mode: str) -> None:
    """The materialization window: ``[start, end)`` of event time, and the mode
    (``range``, ``full`` or ``incremental``)."""
    run.lineage.details["window"] = {"start": start.isoformat() if start else None,
                                     "end": end.isoformat() if end else None, "mode": mode}


def note_table_written(run: RunHandle, view: FeatureView, path: str, version: int, schema: StructType) -> None:
    run.lineage.wrote(offline_table_dataset(path, version, schema, feature_view=view.name))


def note_table_read(run: RunHandle, view: str, path: str, version: int, schema: StructType | None = None) -> None:
    run.lineage.read(offline_table_dataset(path, version, schema, feature_view=view))


def note_quality(run: RunHandle, workspace: Workspace) -> None:
    """The quality gate's result for this run, as the registry recorded it."""
    try:
        from sparkfs.registry.quality_results import QualityStore

        results = QualityStore(workspace.engine).results(run.run_id)
    except Exception as exc:
        _failed(run, "quality results", exc)
        return
    if not results:
        return
    failed = [r for r in results if not r.get("passed")]
    run.lineage.details["quality"] = {
        "passed": not any(r.get("severity") == "error" for r in failed), "rules": len(results),
        "failed": [{"rule": r.get("rule"), "severity": r.get("severity"), "failed_count": r.get("failed_count")}
                   for r in failed]}


def note_sync(run: RunHandle, view: OnlineView, path: str, result: SyncResult, key_namespace: str) -> None:
    """A sync read the offline table at the version it synced to and wrote that generation."""
    note_table_read(run, view.name, path, result.to_delta_version)
    run.lineage.wrote(online_generation_dataset(
        key_namespace, view.name, result.generation, delta_version=result.to_delta_version,
        features=[(f.name, f.dtype) for f in view.features]))
    run.lineage.details.update({"mode": result.mode, "from_delta_version": result.from_delta_version})


def note_training_set(run: RunHandle, workspace: Workspace, record: TrainingSetRecord, *, out: str, fmt: str,
                      tables: Mapping[str, str], df: DataFrame | None = None,
                      spine_info: dict[str, Any] | None = None) -> None:
    """A training set: the spine and the offline table versions it read (``tables``: each
    view's table path, for the definition versions it read), the set it wrote."""
    lineage = run.lineage
    if record.feature_service:
        service = workspace.repository.feature_services.get(record.feature_service)
        if service is not None:
            from sparkfs.definitions import definition_version

            lineage.uses("feature_service", record.feature_service, definition_version(service))
    for name, version in record.definition_versions.items():
        lineage.uses("feature_view", name, version)
    lineage.details["features"] = list(record.features)
    lineage.details["training_set"] = record.id
    info = spine_info if spine_info is not None else (record.options or {}).get("spine", {})
    spine_version = info.get("version")
    lineage.read(source_dataset_plain(record.spine, str(info.get("format", "parquet")),
                                      None if spine_version is None else str(spine_version)))
    for name, table_version in record.table_versions.items():
        if name in tables:
            note_table_read(run, name, tables[name], int(table_version))
    lineage.wrote(training_set_dataset(record.id, out, fmt, df.schema if df is not None else None,
                                       feature_service=record.feature_service, features=list(record.features)))


def source_dataset_plain(path: str, fmt: str, version: str | None) -> Any:
    """A spine as a source dataset (its format and Delta version; no file listing)."""
    from sparkfs.lineage.record import DatasetRef

    return DatasetRef("source", path, version, {"format": fmt, "role": "spine"})
