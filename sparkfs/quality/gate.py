"""The quality gate's Spark side: measure a batch while caching it, write a quarantine table.

:func:`measure_into_cache` computes the batch once into the cache the write then reads and
``observe``s every rule's counters in the same pass; :func:`write_quarantine` appends a failed
batch, each row labelled with the rules it broke. The gate itself (record the results, block on
an error, audit) is :func:`sparkfs.pipeline.quality.quality_gate`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import Observation
from pyspark.sql import functions as F

from sparkfs.quality.check import batch_aggregates
from sparkfs.quality.report import QualityReport
from sparkfs.quality.rules import Rule

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["measure_into_cache", "write_quarantine"]

_WRITE_CACHE_CONF = {
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
}


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


def write_quarantine(batch: DataFrame, rules: list[Rule], report: QualityReport, path: str) -> None:
    """Append the failed batch to the quarantine Delta table at ``path``, each row labelled
    with the row-level rules it broke (``_violations``), the run and the definition version."""
    flags = [F.when(rule.violation, F.lit(rule.label)) for rule in rules if rule.violation is not None]
    violations = F.array_compact(F.array(*flags)) if flags else F.array().cast("array<string>")
    (batch.withColumn("_run_id", F.lit(report.run_id))
     .withColumn("_definition_version", F.lit(report.version))
     .withColumn("_quarantined_at", F.current_timestamp())
     .withColumn("_violations", violations)
     .write.format("delta").mode("append").option("mergeSchema", "true").save(path))
