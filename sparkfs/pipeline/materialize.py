"""Materialization and backfill: compute a feature view and commit it to its Delta table.

* ``materialize(view, start, end)`` replaces exactly the event dates [start, end): rerunning it
  leaves the same rows, never duplicates, and other dates untouched.
* ``materialize(view)`` with no range is incremental: from the last watermark minus the view's
  ``late_arrival`` allowance, late rows are upserted (plain views) or the affected aggregate
  boundaries recomputed (aggregation views). The first incremental run computes everything.
* ``backfill(view, start, end, step)`` runs the range in chunks, records each finished chunk,
  and skips recorded chunks when rerun after a crash.
* ``materialize_all(views)`` runs independent views concurrently in one session, each in a
  FAIR scheduler pool of its own (``sparkfs materialize --all``).

A run is a :class:`MaterializePlan` (:func:`plan_materialize`: governance, the watermark and
the write mode, from the registry alone, before any Spark work) and its execution
(:func:`execute`). Every run is recorded (registry ``runs``) with its row counts, input and
output versions. The rows read are measured while the batch is computed and the rows written
come from the commit itself, so a run costs its read, its gate and its write, and no Spark
job for bookkeeping (see docs/offline-store.md, "What a run costs").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from sparkfs.definitions import FeatureView, JoinKey
from sparkfs.delta_log import latest_version
from sparkfs.errors import SparkfsError, ValidationError
from sparkfs.offline.batch import feature_batch, input_stats
from sparkfs.offline.conform import SOURCE_ROWS
from sparkfs.offline.source import SourceRead, read_source, source_error
from sparkfs.offline.table import (
    OfflineTable,
    ReplaceAll,
    ReplaceFrom,
    ReplaceRange,
    Upsert,
    WriteMode,
)
from sparkfs.pipeline.concurrency import DEFAULT_CONCURRENCY, run_concurrently
from sparkfs.pipeline.lineage import note_quality, note_source, note_table_written, note_window
from sparkfs.pipeline.quality import quality_gate
from sparkfs.pipeline.runs import recorded_run
from sparkfs.pipeline.tables import offline_table
from sparkfs.quality.constraints import sync_constraints
from sparkfs.registry.progress import ProgressStore
from sparkfs.registry.runs import RunRecord

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = [
    "BackfillResult", "Gate", "MaterializePlan", "backfill", "backfill_all", "chunk_ranges", "execute",
    "materialize", "materialize_all", "offline_table", "plan_materialize",
]

#: A quality gate: inspects the batch before it is committed and raises to block it. It may
#: return the frame to write instead (the same rows, e.g. cached); materialize unpersists it.
Gate = Callable[["SparkSession", "Workspace", FeatureView, str, "DataFrame", str], "DataFrame | None"]

_VERSION_PROPERTY = "sparkfs.definition_version"


@dataclass(frozen=True)
class BackfillResult:
    chunks_total: int
    chunks_skipped: int
    runs: list[RunRecord]

    @property
    def rows_written(self) -> int:
        return sum(r.rows_out or 0 for r in self.runs)


@dataclass(frozen=True)
class MaterializePlan:
    """One run, decided from the definitions and the registry before any Spark work.

    ``read_from``/``read_until``: the event times the batch covers (``None``: unbounded);
    ``mode``: how it is committed; ``incremental``: the run advances the view's watermark.
    """

    view: FeatureView
    version: str
    keys: tuple[JoinKey, ...]
    table: OfflineTable
    mode: WriteMode
    read_from: datetime | None
    read_until: datetime | None
    incremental: bool
    job: str = "materialize"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plan_materialize(
    workspace: Workspace, view_name: str, *, start: date | None = None, end: date | None = None,
    job: str = "materialize",
) -> MaterializePlan:
    """What :func:`materialize` would do, checked without Spark (run it before a session starts).

    Raises:
        ValidationError: a half-given or empty range.
        NotFoundError: no such feature view.
        GovernanceError: the repository's version may not run in this namespace.
    """
    if (start is None) != (end is None):
        raise ValidationError("give both --start and --end, or neither (incremental run)")
    view = workspace.repository.feature_view(view_name)
    version = workspace.usable_version(view)
    keys = tuple(workspace.repository.join_keys(view))
    table = offline_table(workspace, view)
    if start is not None and end is not None:
        if start >= end:
            raise ValidationError(f"--start {start} must be before --end {end} (end is exclusive)")
        return MaterializePlan(view, version, keys, table, ReplaceRange(start, end), _midnight(start),
                               _midnight(end), incremental=False, job=job)
    watermark = ProgressStore(workspace.engine).watermark(view.name, version, workspace.namespace)
    if watermark is None:  # the first incremental run computes everything
        return MaterializePlan(view, version, keys, table, ReplaceAll(), None, None, incremental=True, job=job)
    since = (watermark - view.late_arrival).replace(minute=0, second=0, microsecond=0)
    mode: WriteMode
    if view.aggregations is not None:
        mode = ReplaceFrom(since)
    else:
        created: Literal["latest", "every"] | None = None
        if view.created_timestamp_column is not None:
            created = "every" if view.availability == "created" else "latest"
        mode = Upsert(tuple(k.name for k in keys), created)
    return MaterializePlan(view, version, keys, table, mode, since, None, incremental=True, job=job)


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
    return execute(spark, workspace, plan_materialize(workspace, view_name, start=start, end=end, job=job), gate=gate)


def execute(
    spark: SparkSession, workspace: Workspace, plan: MaterializePlan, *, gate: Gate | None = quality_gate
) -> RunRecord:
    """Run ``plan``: read, gate, commit, record. The Spark jobs are the gate's measuring pass
    (views with expectations), the write, and constraint changes when the rules changed."""
    view, table = plan.view, plan.table
    run_range = (plan.read_from, plan.read_until) if isinstance(plan.mode, ReplaceRange) else (plan.read_from, None)
    with recorded_run(workspace, plan.job, spark=spark, feature_view=view.name, version=plan.version,
                      range_start=run_range[0], range_end=run_range[1], details={"table": table.path}) as run:
        source = read_source(spark, view, workspace.config.data_dir)
        note_source(run, spark, workspace, view, source)
        note_window(run, plan.read_from, plan.read_until,
                    "range" if isinstance(plan.mode, ReplaceRange) else "incremental"
                    if plan.read_from is not None else "full")
        batch = feature_batch(spark, view, list(plan.keys), source.df, plan.read_from, plan.read_until,
                              name=run.run_id)
        rows, cached = batch.rows, None
        try:
            if gate is not None:
                with _source_errors(spark, view, source):
                    # The quality gate returns the batch computed into a cache while it measured
                    # it: the write reads the cache, so the batch is computed once.
                    cached = gate(spark, workspace, view, plan.version, rows, run.run_id)
                rows = cached if cached is not None else rows
            rows = rows.drop(SOURCE_ROWS)
            state = table.ensure(spark, rows.schema, {"sparkfs.feature_view": view.name,
                                                      _VERSION_PROPERTY: plan.version})
            # hard rules become Delta CHECK constraints; nothing runs when they are in place
            sync_constraints(spark, table.path, view, properties=state.properties)
            metadata: dict[str, Any] = {
                "run_id": run.run_id, "feature_view": view.name, "definition_version": plan.version,
                "namespace": workspace.namespace, "inputs": {source.location: source.delta_version},
            }
            with _source_errors(spark, view, source):
                commit = table.write(spark, rows, plan.mode, ingested_at=datetime.now(UTC),
                                     metadata=metadata, after=state.version)
            read = input_stats(batch)
            note_table_written(run, view, table.path, commit.version, rows.schema)
        finally:
            if cached is not None:
                cached.unpersist()
            note_quality(run, workspace)
        if state.properties.get(_VERSION_PROPERTY) != plan.version:
            table.set_properties(spark, {_VERSION_PROPERTY: plan.version})
            note_table_written(run, view, table.path, latest_version(spark, table.path), rows.schema)
        if plan.incremental:
            _advance_watermark(workspace, plan, read.newest, source)
        run.rows_in, run.rows_out = read.rows, commit.rows_written
        run.input_versions, run.output_version = {source.location: source.delta_version}, commit.version
    assert run.record is not None
    return run.record


@contextmanager
def _source_errors(spark: SparkSession, view: FeatureView, source: SourceRead) -> Iterator[None]:
    """Around the jobs that read the source: a file Spark cannot read (damaged, a value that
    does not parse) fails with one paragraph, not a Spark trace."""
    try:
        yield
    except SparkfsError:
        raise
    except Exception as exc:
        error = source_error(spark, view, source.location, exc, known_only=True)
        if error is None:
            raise
        raise error from exc


def _advance_watermark(workspace: Workspace, plan: MaterializePlan, newest: datetime | None,
                       source: SourceRead) -> None:
    if newest is None:
        return
    progress = ProgressStore(workspace.engine)
    previous = progress.watermark(plan.view.name, plan.version, workspace.namespace)
    value = max(newest, previous) if previous else newest
    progress.set_watermark(plan.view.name, plan.version, workspace.namespace, value,
                           {source.location: source.delta_version})


def materialize_all(
    spark: SparkSession,
    workspace: Workspace,
    plans: Sequence[MaterializePlan],
    *,
    gate: Gate | None = quality_gate,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[str, RunRecord | Exception], None] | None = None,
) -> dict[str, RunRecord | Exception]:
    """Execute independent plans concurrently in one application, each view in a session and a
    FAIR scheduler pool of its own (:mod:`sparkfs.pipeline.concurrency`); returns each view's
    run, or the exception that failed it (the other views still run)."""
    names = [p.view.name for p in plans]
    if len(set(names)) != len(names):
        raise ValidationError(f"feature view(s) given twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    jobs: dict[str, Callable[[SparkSession], RunRecord]] = {
        plan.view.name: partial(_execute_in, workspace=workspace, plan=plan, gate=gate) for plan in plans}
    return run_concurrently(spark, jobs, concurrency=concurrency, on_done=on_done)


def _execute_in(spark: SparkSession, *, workspace: Workspace, plan: MaterializePlan, gate: Gate | None) -> RunRecord:
    return execute(spark, workspace, plan, gate=gate)


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


def backfill_all(
    spark: SparkSession,
    workspace: Workspace,
    view_names: Sequence[str],
    start: date,
    end: date,
    *,
    step: timedelta = timedelta(days=7),
    gate: Gate | None = quality_gate,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[str, BackfillResult | Exception], None] | None = None,
) -> dict[str, BackfillResult | Exception]:
    """:func:`backfill` of several views concurrently (each view's chunks in order, in a
    session and a FAIR pool of its own); returns each view's result or exception."""
    jobs: dict[str, Callable[[SparkSession], BackfillResult]] = {
        name: partial(_backfill_in, workspace=workspace, view_name=name, start=start, end=end, step=step, gate=gate)
        for name in dict.fromkeys(view_names)}
    return run_concurrently(spark, jobs, concurrency=concurrency, on_done=on_done)


def _backfill_in(spark: SparkSession, *, workspace: Workspace, view_name: str, start: date, end: date,
                 step: timedelta, gate: Gate | None) -> BackfillResult:
    return backfill(spark, workspace, view_name, start, end, step=step, gate=gate)
