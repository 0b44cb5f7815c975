"""The Spark settings every sparkfs session needs, whatever the deployment.

A module of its own so that both :mod:`sparkfs.session` (which builds sessions) and
:mod:`sparkfs.jars` (which warms the jar cache with a throwaway session) read it without
importing each other.
"""

from __future__ import annotations

__all__ = ["BASE_SPARK_CONF"]

#: Settings every sparkfs session needs, whatever the deployment.
BASE_SPARK_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # All times are UTC: event timestamps, partitions and point-in-time comparisons.
    "spark.sql.session.timeZone": "UTC",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    # Parquet written by pandas stores timestamps in nanoseconds, which Spark refuses unless it
    # reads them as bigint; sparkfs turns those back into timestamps (sparkfs/offline/parquet.py).
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # PySpark otherwise records the Python call site of every DataFrame/Column call for error
    # messages: several py4j round trips and a failed `import IPython` per call, ~3-8 ms each.
    # An incremental sync builds its query with ~70 such calls: 0.2-0.5 s of a ~1 s sync.
    # Users who want call sites in errors set it back to "true" in spark.conf (their value wins).
    "spark.python.sql.dataFrameDebugging.enabled": "false",
    # Jobs submitted from several threads (`sparkfs materialize --all`) share the executors by
    # pool (sparkfs.pipeline.concurrency) instead of queueing behind each other; jobs of one
    # thread, in the default pool, still run in submission order.
    "spark.scheduler.mode": "FAIR",
    # Delta rebuilds a table's snapshot (its log replayed into the list of live files) in this
    # many partitions, and every later query's file listing scans that many cached partitions.
    # Delta's default, 50, is sized for cluster-scale logs: on a few cores it is 50 tasks per
    # table load and per scan. Measured on 2 cores (first read of a fresh 1M-row table, then
    # a repeated scan): 50 -> 4.5 s / 1.0 s, 4 -> 1.1 s / 0.3 s. Raise it in spark.conf for
    # tables of millions of files.
    "spark.databricks.delta.snapshotPartitions": "4",
}
