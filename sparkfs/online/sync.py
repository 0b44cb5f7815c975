"""Sync one feature view from its Delta table to the online store.

Incremental by default: only the rows the Delta change feed lists since the checkpoint are
pushed, through the atomic event-time rule. A full refresh (first run, new definition version,
forced, lost or inconsistent online state, change feed history unavailable) builds a new
generation and publishes it atomically. The checkpoint moves only after full success; every
write is idempotent, so a run killed anywhere and rerun converges to the state of a clean run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from sparkfs.delta_log import change_feed, latest_version
from sparkfs.errors import OnlineStoreError
from sparkfs.online.checkpoints import Checkpoint, CheckpointStore
from sparkfs.online.generations import GenerationLostError, Generations
from sparkfs.online.layout import data_prefix, datetime_to_us
from sparkfs.online.lease import SyncLease
from sparkfs.online.points import changed_points, points_for_deleted, points_per_entity
from sparkfs.online.retry import retrying
from sparkfs.online.task import COUNTS_SCHEMA, WriteTask
from sparkfs.online.topology import OnlineTarget, make_client
from sparkfs.online.view import OnlineView
from sparkfs.online.writer import WriteCounts, WriteMode
from sparkfs.spark_errors import SparkFailure, executor_error

__all__ = ["SyncResult", "sync_feature_view"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did.

    ``mode`` is ``full``, ``incremental`` or ``noop``; ``reason`` says why (e.g. "no
    checkpoint", "definition version changed"). ``rows_sent`` counts entity rows handed to
    Redis, ``entities_written`` those actually stored (the rest were older than the stored
    value or outside ttl).
    """

    view_name: str
    definition_version: str
    mode: str
    reason: str
    from_delta_version: int | None
    to_delta_version: int
    generation: int
    rows_sent: int
    entities_written: int
    entities_deleted: int
    keys_collected: int
    duration_s: float


def _run_write(df: DataFrame, task: WriteTask) -> WriteCounts:
    """Write ``df`` from the executors; each write task returns one row of counters (one row
    per partition comes back, summed here: no aggregation stage after the write)."""
    try:
        rows = df.mapInArrow(task, COUNTS_SCHEMA).collect()
    except Exception as exc:
        message = executor_error(exc, "OnlineStoreError")
        if message is not None:
            raise OnlineStoreError(message) from exc
        raise
    return WriteCounts(sent=sum(r["sent"] for r in rows),
                       written=sum(r["written"] for r in rows),
                       deleted=sum(r["deleted"] for r in rows),
                       deferred=sum(r["deferred"] for r in rows))


@dataclass
class _Context:
    spark: SparkSession
    table_path: str
    view: OnlineView
    online: OnlineTarget
    gens: Generations
    now: datetime
    to_version: int
    grace_s: float
    lease: SyncLease

    def task(self, generation: int, mode: WriteMode) -> WriteTask:
        prefix = data_prefix(self.online.namespace, self.view.name, self.view.version, generation)
        now_us = datetime_to_us(self.now)
        return WriteTask(view=self.view, online=self.online, prefix=prefix, mode=mode,
                         now_ms=now_us // 1000, now_us=now_us)

    def snapshot(self) -> DataFrame:
        return (self.spark.read.format("delta").option("versionAsOf", self.to_version)
                .load(self.table_path))


def _full(ctx: _Context, previous: Checkpoint | None,
          redo: bool = True) -> tuple[int, WriteCounts, int]:
    view, gens = ctx.view, ctx.gens
    collected = retrying(ctx.online, "removing leftover generations",
                          lambda: gens.collect(view.name, grace_s=ctx.grace_s, wait=False))
    generation = retrying(ctx.online, "allocating a generation",
                           lambda: gens.begin(view.name, view.version))
    points = points_per_entity(ctx.snapshot(), view, ctx.now)
    counts = _run_write(points, ctx.task(generation, WriteMode.FRESH))
    ctx.lease.check(f"publishing generation {generation}")
    try:
        retrying(ctx.online, "publishing the generation",
                  lambda: gens.publish(view.name, view.version, generation))
    except GenerationLostError:
        if not redo:
            raise
        log.warning("Redis lost generation %s of %s mid-refresh; refreshing again",
                    generation, view.name)
        prefix = data_prefix(ctx.online.namespace, view.name, view.version, generation)
        retrying(ctx.online, "removing a lost generation", lambda: gens.delete_keys(prefix))
        return _full(ctx, previous, redo=False)
    if previous is not None and previous.definition_version != view.version:
        retrying(ctx.online, "retiring the previous definition version",
                  lambda: gens.retire_version(view.name, previous.definition_version))
    return generation, counts, collected


def _incremental(ctx: _Context, generation: int, start: int) -> WriteCounts:
    cdf = change_feed(ctx.spark, ctx.table_path, start, ctx.to_version)
    counts = _run_write(changed_points(cdf, ctx.view, ctx.now),
                        ctx.task(generation, WriteMode.CONDITIONAL))
    if counts.deferred:
        fixes = points_for_deleted(cdf, ctx.snapshot(), ctx.view, ctx.now)
        counts.add(_run_write(fixes, ctx.task(generation, WriteMode.CONDITIONAL)))
    live = retrying(ctx.online, "checking the generation pointer",
                     lambda: ctx.gens.live(ctx.view.name, ctx.view.version))
    if live != generation:
        raise GenerationLostError(f"the live generation of {ctx.view.name!r} changed from "
                                  f"{generation} to {live} during an incremental sync")
    return counts


def _cdf_unavailable(exc: Exception) -> bool:
    """The change feed for the range cannot be read (versions vacuumed or expired, the feed
    off for them, files gone): the sync falls back to a full refresh. A write to Redis that
    failed on an executor is not one of these."""
    if isinstance(exc, OnlineStoreError) or executor_error(exc, "OnlineStoreError") is not None:
        return False
    failure = SparkFailure.of(exc)
    return failure.has_class("VersionNotFoundException", "FileNotFoundException") or failure.has_condition(
        "DELTA_VERSION_NOT_FOUND", "DELTA_TIMESTAMP_GREATER_THAN_COMMIT", "DELTA_INVALID_CDC_RANGE",
        "DELTA_FILE_NOT_FOUND", "DELTA_FILE_NOT_FOUND_DETAILED", "FILE_NOT_EXIST", "PATH_NOT_FOUND",
        "DELTA_CANNOT_TIME_TRAVEL_VERSION", "DELTA_INVALID_TIMESTAMP_FORMAT",
        prefixes=("DELTA_MISSING_CHANGE_DATA", "DELTA_CHANGE_DATA", "DELTA_CHANGE_TABLE_FEED"))


def _plan(ctx: _Context, cp: Checkpoint | None, full: bool) -> tuple[str, str, int | None]:
    """Choose ``(mode, reason, live generation)``."""
    view = ctx.view
    live = retrying(ctx.online, "reading the generation pointer",
                     lambda: ctx.gens.live(view.name, view.version))
    if full:
        return "full", "full refresh requested", live
    if cp is None:
        return "full", "no checkpoint", live
    if cp.definition_version != view.version:
        return "full", f"definition version changed from {cp.definition_version}", live
    if live is None or live != cp.generation:
        return "full", "online generation does not match the checkpoint (lost or partial)", live
    if cp.delta_version > ctx.to_version:
        return "full", "checkpoint is ahead of the table (table replaced?)", live
    if cp.delta_version == ctx.to_version:
        return "noop", "no new Delta version", live
    return "incremental", f"changes since Delta version {cp.delta_version}", live


def _sync(ctx: _Context, checkpoints: CheckpointStore, full: bool
          ) -> tuple[str, str, int | None, int, WriteCounts, int]:
    view, online = ctx.view, ctx.online
    cp = checkpoints.get(view.name)
    mode, reason, live = _plan(ctx, cp, full)
    counts, collected, start = WriteCounts(), 0, None
    generation = live or 0
    if mode == "incremental":
        assert cp is not None and live is not None
        start = cp.delta_version + 1
        try:
            counts = _incremental(ctx, live, start)
        except GenerationLostError as exc:
            log.warning("%s; full refresh", exc)
            mode, reason, start = "full", "online data lost during the sync", None
        except Exception as exc:
            if not _cdf_unavailable(exc):
                raise
            log.warning("change feed of %s unavailable (%s); full refresh", ctx.table_path, exc)
            mode, reason, start = "full", "change feed history unavailable", None
    if mode == "full":
        generation, counts, collected = _full(ctx, cp)
    if mode != "noop":
        ctx.lease.check("moving the checkpoint")
        checkpoints.put(view.name, Checkpoint(view.version, ctx.to_version, generation))
    collected += retrying(online, "removing replaced generations",
                           lambda: ctx.gens.collect(view.name, grace_s=ctx.grace_s, wait=True))
    return mode, reason, start, generation, counts, collected


def sync_feature_view(
    spark: SparkSession,
    *,
    table_path: str,
    view: OnlineView,
    online: OnlineTarget,
    checkpoints: CheckpointStore,
    full: bool = False,
    now: datetime | None = None,
    retire_grace_s: float = 5.0,
    wait_s: float = 0.0,
) -> SyncResult:
    """Push each entity's change points (``points.py``) of ``table_path`` to the online store.

    Args:
        retire_grace_s: how long a replaced generation stays readable after a full refresh
            publishes its successor (readers holding the old pointer finish their reads).
        wait_s: how long to wait for another sync of the view to finish (one sync per view
            at a time: see ``lease.py``).

    Raises:
        WriteConflictError: another sync of the view is running (after ``wait_s``), or this one
            lost its lease; nothing is published and the checkpoint is unchanged.
        OnlineStoreError: Redis failed after bounded retries (names the node); the checkpoint
            is unchanged and a rerun resumes from it.
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    with SyncLease(online, view.name, wait_s=wait_s) as lease:
        client = make_client(online)
        try:
            ctx = _Context(spark, table_path, view, online, Generations(client, online.namespace),
                           now, latest_version(spark, table_path), retire_grace_s, lease)
            mode, reason, start, generation, counts, collected = _sync(ctx, checkpoints, full)
        finally:
            client.close()
    return SyncResult(
        view_name=view.name, definition_version=view.version, mode=mode, reason=reason,
        from_delta_version=start, to_delta_version=ctx.to_version, generation=generation,
        rows_sent=counts.sent, entities_written=counts.written,
        entities_deleted=counts.deleted, keys_collected=collected,
        duration_s=time.monotonic() - started,
    )
