"""The quality gate materialization runs before committing a batch.

On an error-severity failure the batch is appended to a quarantine Delta table,
``<offline_root>/_quarantine/<view>``, with ``_run_id``, ``_quarantined_at`` and
``_violations`` (the row-level rules each row broke), and :class:`QualityGateError` is raised
with the report, so nothing reaches the feature table: its current version stays current.
Warnings are recorded in ``quality_results`` and do not block.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import Observation
from pyspark.sql import functions as F

from sparkfs.definitions import QUARANTINE_DIR, FeatureView
from sparkfs.errors import QualityGateError
from sparkfs.quality.check import batch_aggregates, check_batch, compile_rules, view_keys
from sparkfs.quality.report import QualityReport
from sparkfs.quality.rules import Rule

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkfs.workspace import Workspace

__all__ = ["QUARANTINE_DIR", "measure_into_cache", "quality_gate", "quarantine", "quarantine_path"]

_WRITE_CACHE_CONF = {
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
}


def quarantine_path(workspace: Workspace, view: str) -> str:
    return f"{workspace.offline_root.rstrip('/')}/{QUARANTINE_DIR}/{view}"


def quarantine(workspace: Workspace, view: FeatureView, batch: DataFrame, report: QualityReport) -> str:
    """Append the failed batch, each row labelled with the rules it broke; returns the path."""
    keys = view_keys(workspace, view)
    flags = [F.when(rule.violation, F.lit(rule.label)) for rule in compile_rules(view, keys, batch)
             if rule.violation is not None]
    violations = F.array_compact(F.array(*flags)) if flags else F.array().cast("array<string>")
    path = quarantine_path(workspace, view.name)
    (batch.withColumn("_run_id", F.lit(report.run_id))
     .withColumn("_definition_version", F.lit(report.version))
     .withColumn("_quarantined_at", F.current_timestamp())
     .withColumn("_violations", violations)
     .write.format("delta").mode("append").option("mergeSchema", "true").save(path))
    return path


_settings_lock = threading.Lock()
_settings_users: dict[int, tuple[int, dict[str, str | None]]] = {}  # session id -> (users, saved)


@contextmanager
def _write_cache_settings(spark: SparkSession) -> Iterator[None]:
    """Session settings for a cache built to be written once, restored afterwards.

    Uncompressed: compressing it cost more than the gate's measurements. Partitioned as the
    uncached batch would be: Spark otherwise keeps ``spark.sql.shuffle.partitions`` for a
    cached plan, and writing the batch from more, smaller partitions than adaptive execution
    would choose (more tasks and files per date partition) cost more than the cache itself.
    The cache's buffers are built by the first job that reads it, so that job runs inside.
    Gates running in several threads of one session share the settings: the first saves the
    session's values, the last restores them (a plain save/restore per thread would interleave
    and leave the session changed).
    """
    key = id(spark)
    with _settings_lock:
        users, saved = _settings_users.get(key, (0, {}))
        if users == 0:
            saved = {name: spark.conf.get(name, None) for name in _WRITE_CACHE_CONF}
            for name, value in _WRITE_CACHE_CONF.items():
                spark.conf.set(name, value)
        _settings_users[key] = (users + 1, saved)
    try:
        yield
    finally:
        with _settings_lock:
            users, saved = _settings_users.pop(key)
            if users > 1:
                _settings_users[key] = (users - 1, saved)
            else:
                for name, old in saved.items():
                    if old is None:
                        spark.conf.unset(name)
                    else:
                        spark.conf.set(name, old)


def measure_into_cache(
    spark: SparkSession, batch: DataFrame, rules: list[Rule], run_id: str
) -> tuple[DataFrame, dict[str, Any] | None]:
    """Compute ``batch`` once into an in-memory cache, measuring the rules' aggregates in the
    same pass (``observe``); returns the cached frame (the caller unpersists it) and the row of
    measurements (``None`` if no job measured them). On any failure nothing stays cached."""
    observation = Observation(f"sparkfs_quality_{run_id}")
    observed = batch.observe(observation, *batch_aggregates(rules))
    with _write_cache_settings(spark):
        cached = observed.persist(StorageLevel.MEMORY_AND_DISK_DESER)
        try:
            cached.count()  # builds the cache; the observation is complete when this returns
        except BaseException:
            cached.unpersist()
            raise
    # ``get`` would wait forever if no job measured the rows (e.g. a cache Spark had already
    # built): then the gate falls back to its own aggregation job over the cache.
    measured = observation.get if observation._jo is not None and observation._jo.future().isCompleted() else None
    return cached, measured


def quality_gate(
    spark: SparkSession, workspace: Workspace, view: FeatureView, version: str, batch: DataFrame, run_id: str
) -> DataFrame | None:
    """A :data:`sparkfs.offline.materialize.Gate`: check, record, quarantine and block on error.

    A view without expectations costs nothing (no Spark job) and returns ``None``. Otherwise the
    batch is computed once into a cache while every rule's counters are measured (one pass, no
    aggregation job of its own), and the cached batch is returned for the write to read; the
    caller unpersists it.

    Raises:
        QualityGateError: an error-severity rule failed; the message is the full report.
    """
    if not view.expectations:
        return None
    rules = compile_rules(view, view_keys(workspace, view), batch)
    cached, measured = measure_into_cache(spark, batch, rules, run_id)
    try:
        report = check_batch(workspace, view, version, cached, run_id, rules=rules, measured=measured)
        if report.passed:
            return cached
        path = quarantine(workspace, view, cached, report)
    except BaseException:
        cached.unpersist()
        raise
    cached.unpersist()
    failed = [r.label for r in report.blocking]
    workspace.audit.append(user=workspace.user, action="quality_gate", kind="feature_view", name=view.name,
                           version=version, outcome="failed",
                           details={"run_id": run_id, "failed": failed, "quarantine": path})
    raise QualityGateError(
        f"{report.render()}\nnothing was committed to the feature table (its current version stays current); "
        f"the batch is in the quarantine table {path} (_run_id = '{run_id}'). Fix the source data or the "
        f"expectation, then rerun; `sparkfs validate {view.name}` checks without writing."
    )
