"""Materialization and backfill: compute a feature view and commit it to its Delta table.

* ``materialize(view, start, end)`` replaces exactly the event dates [start, end): rerunning it
  leaves the same rows, never duplicates, and other dates untouched.
* ``materialize(view)`` with no range is incremental: from the last watermark minus the view's
  ``late_arrival`` allowance, late rows are upserted (plain views) or the affected aggregate
  boundaries recomputed (aggregation views). The first incremental run computes everything.
* ``backfill(view, start, end, step)`` runs the range in chunks, records each finished chunk,
  and skips recorded chunks when rerun after a crash.

Every run is recorded (registry ``runs``) with its row counts, input and output versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from sparkfs.definitions import FeatureView, window_label
from sparkfs.errors import ValidationError
from sparkfs.offline.conform import (
    CREATED_AT,
    EVENT_TIMESTAMP,
    SOURCE_ROWS,
    conform_events,
    conform_features,
)
from sparkfs.offline.source import SourceRead, apply_transformation, read_source, source_error
from sparkfs.offline.table import OfflineTable, schema_fingerprint
from sparkfs.pipeline.quality import quality_gate
from sparkfs.pipeline.runs import recorded_run
from sparkfs.quality.constraints import sync_constraints
from sparkfs.registry.progress import ProgressStore
from sparkfs.registry.runs import RunRecord

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["BackfillResult", "Gate", "backfill", "chunk_ranges", "materialize", "offline_table"]

#: A quality gate: inspects the batch before it is committed and raises to block it. It may
#: return the frame to write instead (the same rows, e.g. cached); materialize unpersists it.
Gate = Callable[["SparkSession", "Workspace", FeatureView, str, "DataFrame", str], "DataFrame | None"]


@dataclass(frozen=True)
class BackfillResult:
    chunks_total: int
    chunks_skipped: int
    runs: list[RunRecord]

    @property
    def rows_written(self) -> int:
        return sum(r.rows_out or 0 for r in self.runs)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def stored_columns(workspace: Workspace, view: FeatureView) -> list[tuple[str, str]]:
    """The declared stored columns of a view: (name, type) with aggregates typed by function."""
    cols: list[tuple[str, str]] = [(k.name, k.type) for k in workspace.repository.join_keys(view)]
    cols.append((EVENT_TIMESTAMP, "timestamp"))
    cols += [(f.name, f.type) for f in view.features]
    if view.created_timestamp_column is not None:
        # knowing time keeps every record, a different table than one row per keys and E
        cols.append((CREATED_AT, "timestamp" if view.availability == "event" else "timestamp, every record"))
    if view.aggregations is not None:
        for feature in view.aggregations.features:
            for window in view.aggregations.windows:
                cols.append((f"{feature.name}_{window_label(window)}", f"{feature.function}({feature.column})"))
    return cols


def offline_table(workspace: Workspace, view: FeatureView) -> OfflineTable:
    return OfflineTable(view=view.name, root=workspace.offline_root,
                        fingerprint=schema_fingerprint(stored_columns(workspace, view)))


def _batch(
    spark: SparkSession, workspace: Workspace, view: FeatureView, source: SourceRead,
    start: datetime | None, end: datetime | None,
) -> tuple[DataFrame, DataFrame, str]:
    """(rows to write, input in scope, its event-time column) for event times in [start, end)."""
    keys = workspace.repository.join_keys(view)
    transformed = apply_transformation(spark, view, source.df)
    ts = F.col(view.timestamp_column)
    if view.aggregations is None:
        scoped = transformed
        if start is not None:
            scoped = scoped.where(ts >= F.lit(start))
        if end is not None:
            scoped = scoped.where(ts < F.lit(end))
        return conform_features(scoped, view, keys), scoped, view.timestamp_column
    from sparkfs.offline.aggregation import required_event_start
    from sparkfs.offline.aggregation_bridge import aggregate_view, spec_of, value_columns

    events = conform_events(transformed, view, keys, value_columns(view))
    if start is not None:
        events = events.where(F.col(EVENT_TIMESTAMP) >= F.lit(required_event_start(spec_of(view), start)))
    if end is not None:
        events = events.where(F.col(EVENT_TIMESTAMP) < F.lit(end))
    return aggregate_view(events, view, [k.name for k in keys], start=start, end=end), events, EVENT_TIMESTAMP


def _rows_written(metrics: dict[str, str]) -> int:
    for key in ("numOutputRows", "numTargetRowsInserted"):
        if key in metrics:
            extra = int(metrics.get("numTargetRowsUpdated", 0)) if key == "numTargetRowsInserted" else 0
            return int(metrics[key]) + extra
    return 0


def materialize(
    spark: SparkSession,
    workspace: Workspace,
    view_name: str,
    *,
    start: date | None = None,
    end: date | None = None,
    gate: Gate | None = quality_gate,
    job: str = "materialize",
) -> RunRecord:
    """Compute ``view_name`` and commit it; see the module docstring for the modes."""
    if (start is None) != (end is None):
        raise ValidationError("give both --start and --end, or neither (incremental run)")
    if start is not None and end is not None and start >= end:
        raise ValidationError(f"--start {start} must be before --end {end} (end is exclusive)")
    view = workspace.repository.feature_view(view_name)
    version = workspace.usable_version(view)
    table = offline_table(workspace, view)
    progress = ProgressStore(workspace.engine)
    run_start = _midnight(start) if start else None
    run_end = _midnight(end) if end else None
    incremental_since: datetime | None = None
    if start is None:
        watermark = progress.watermark(view.name, version, workspace.namespace)
        if watermark is not None:
            incremental_since = _floor_hour(watermark - view.late_arrival)
    cached: DataFrame | None = None
    with recorded_run(workspace, job, spark=spark, feature_view=view.name, version=version,
                      range_start=run_start or incremental_since, range_end=run_end,
                      details={"table": table.path}) as run:
        run_id = run.run_id
        try:
            source = read_source(spark, view, workspace.config.data_dir)
            batch, scoped, time_column = _batch(spark, workspace, view, source, run_start or incremental_since, run_end)
            stats = _first_pass(spark, view, source, scoped.agg(
                F.count(F.lit(1)).alias("n"), F.max(F.col(time_column)).alias("newest")))
            rows_in, newest = int(stats["n"]), stats["newest"]
            if gate is not None:
                # The quality gate returns the batch computed into a cache while it measured it: the
                # write reads the cache, so the batch is computed once, not once per pass.
                cached = gate(spark, workspace, view, version, batch, run_id)
                if cached is not None:
                    batch = cached
            batch = batch.drop(SOURCE_ROWS)
            table.ensure(spark, batch.schema, {"sparkfs.feature_view": view.name})
            sync_constraints(spark, table.path, view)  # hard rules become Delta CHECK constraints
            metadata: dict[str, Any] = {
                "run_id": run_id, "feature_view": view.name, "definition_version": version,
                "namespace": workspace.namespace, "inputs": {source.location: source.delta_version},
            }
            now = datetime.now(UTC)
            if run_start is not None and run_end is not None:
                out_version = table.replace_range(spark, batch, run_start.date(), run_end.date(), ingested_at=now, metadata=metadata)
            elif incremental_since is None:
                out_version = table.replace_range(spark, batch, date(1, 1, 1), date(9999, 12, 31), ingested_at=now, metadata=metadata)
            elif view.aggregations is not None:
                out_version = table.replace_from(spark, batch, incremental_since, ingested_at=now, metadata=metadata)
            else:
                keys = [k.name for k in workspace.repository.join_keys(view)]
                created = None if view.created_timestamp_column is None else \
                    "every" if view.availability == "created" else "latest"
                out_version = table.upsert(spark, batch, keys, ingested_at=now, metadata=metadata, created=created)
            rows_out = _rows_from_history(spark, table, out_version)
            if table.properties(spark).get("sparkfs.definition_version") != version:
                table.set_properties(spark, {"sparkfs.definition_version": version})
            if start is None:
                _advance_watermark(progress, view, version, workspace.namespace, newest, source)
        finally:
            if cached is not None:
                cached.unpersist()
        run.rows_in, run.rows_out = rows_in, rows_out
        run.input_versions, run.output_version = {source.location: source.delta_version}, out_version
    assert run.record is not None
    return run.record


def _first_pass(spark: SparkSession, view: FeatureView, source: SourceRead, stats: DataFrame) -> Any:
    """The first job that reads every source row: a file Spark cannot read (damaged, a value
    that does not parse) fails here with one paragraph, not a Spark trace."""
    from sparkfs.errors import SparkfsError

    try:
        row = stats.first()
    except SparkfsError:
        raise
    except Exception as exc:
        error = source_error(spark, view, source.location, exc, known_only=True)
        if error is None:
            raise
        raise error from exc
    assert row is not None
    return row


def _rows_from_history(spark: SparkSession, table: OfflineTable, version: int) -> int:
    from delta.tables import DeltaTable

    rows = DeltaTable.forPath(spark, table.path).history(5).where(F.col("version") == version).select("operationMetrics").first()
    return _rows_written(dict(rows["operationMetrics"] or {})) if rows is not None else 0


def _floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _advance_watermark(
    progress: ProgressStore, view: FeatureView, version: str, namespace: str,
    newest: datetime | None, source: SourceRead,
) -> None:
    if newest is None:
        return
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    previous = progress.watermark(view.name, version, namespace)
    value = max(newest, previous) if previous else newest
    progress.set_watermark(view.name, version, namespace, value, {source.location: source.delta_version})


def chunk_ranges(start: date, end: date, step: timedelta) -> list[tuple[date, date]]:
    """Split [start, end) into consecutive chunks of ``step`` whole days (the last may be shorter)."""
    if step < timedelta(days=1) or step % timedelta(days=1):
        raise ValidationError(f"--step must be a whole number of days, got {step}")
    chunks, cursor = [], start
    while cursor < end:
        nxt = min(cursor + step, end)
        chunks.append((cursor, nxt))
        cursor = nxt
    return chunks


def backfill(
    spark: SparkSession,
    workspace: Workspace,
    view_name: str,
    start: date,
    end: date,
    *,
    step: timedelta = timedelta(days=7),
    gate: Gate | None = quality_gate,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> BackfillResult:
    """Materialize [start, end) chunk by chunk, resuming after the last finished chunk."""
    if start >= end:
        raise ValidationError(f"--start {start} must be before --end {end} (end is exclusive)")
    view = workspace.repository.feature_view(view_name)
    version = workspace.usable_version(view)
    progress = ProgressStore(workspace.engine)
    chunks = chunk_ranges(start, end, step)
    done = progress.done_chunks(view.name, version, workspace.namespace)
    runs: list[RunRecord] = []
    skipped, written = 0, 0
    for index, (lo, hi) in enumerate(chunks, 1):
        if (_midnight(lo), _midnight(hi)) in done:
            skipped += 1
        else:
            record = materialize(spark, workspace, view_name, start=lo, end=hi, gate=gate, job="backfill")
            progress.mark_chunk(view.name, version, workspace.namespace, _midnight(lo), _midnight(hi), record.run_id)
            runs.append(record)
            written += record.rows_out or 0
        if on_progress is not None:
            on_progress(index, len(chunks), written)
    return BackfillResult(chunks_total=len(chunks), chunks_skipped=skipped, runs=runs)
