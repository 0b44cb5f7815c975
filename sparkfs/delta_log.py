"""Delta table version and change feed, without the overheads of the generic read paths.

Latest version:

``DeltaTable.history(1)`` answers through a query over the table history: a Spark job of
~0.4 s, paid by every sync, materialization and training-set run (an incremental sync of a few
thousand rows spent a third of its time there). Delta's own log handle answers from the log
listing it keeps up to date, in milliseconds. It is reached through the JVM; if that interface
is unavailable (another Delta build) or the path holds no table, the history query answers
instead, so errors stay Delta's own ("... is not a Delta table").

Change feed: ``spark.read.option("readChangeFeed", ...)`` hands Spark a relation whose every
scan plans and runs a nested query (the change rows as a DataFrame turned into an RDD): ~0.1-0.2
s per planning warm, ~0.8 s the first time in a process, paid by every incremental sync.
:func:`change_feed` asks Delta's change-feed reader for that DataFrame directly, the call the
relation itself makes, so Spark plans one ordinary file scan: the same rows, the same checks.
Whenever that is not possible (another Delta build, Spark Connect, the start commit no longer in
the log, any error) it reads through the public reader, so errors stay Delta's own.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["TableState", "change_feed", "commit_info", "latest_version", "table_state"]

log = logging.getLogger(__name__)


def _from_log(spark: SparkSession, path: str) -> int | None:
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        none = jvm.scala.Option.apply(None)
        version = int(log.update(False, none, none).version())
    except Exception:  # py4j errors: an interface this Delta build does not have
        return None
    return version if version >= 0 else None


@dataclass(frozen=True)
class TableState:
    """A Delta table's latest version and its table properties (``delta.constraints.*`` among
    them), as the log handle holds them: what a writer needs to know without a query."""

    version: int
    properties: dict[str, str]


def table_state(spark: SparkSession, path: str) -> TableState | None:
    """The latest version and properties of the Delta table at ``path``; ``None`` when there is
    no table there. Answered from Delta's log handle (no Spark job; ``DESCRIBE DETAIL`` is a
    query of ~0.1-0.3 s), else from ``DESCRIBE DETAIL``."""
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        none = jvm.scala.Option.apply(None)
        snapshot = delta_log.update(False, none, none)
        version = int(snapshot.version())
        if version < 0:
            return None
        configuration = jvm.scala.jdk.javaapi.CollectionConverters.asJava(snapshot.metadata().configuration())
        return TableState(version, {str(k): str(v) for k, v in dict(configuration).items()})
    except Exception as exc:  # py4j: an interface this Delta build does not have
        log.debug("table state of %s from the log handle unavailable: %s", path, exc)
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, path):
        return None
    row = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").select("properties").first()
    return TableState(latest_version(spark, path), dict(row["properties"] or {}) if row is not None else {})


def commit_info(spark: SparkSession, path: str, version: int) -> dict[str, Any] | None:
    """The ``commitInfo`` action of commit ``version`` of the table at ``path`` (operation,
    ``operationMetrics``, ``userMetadata``, ...), read from that one log file: ``None`` if it
    cannot be read (the file was cleaned up, another Delta build)."""
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        log_path = delta_log.logPath()
        commit = jvm.org.apache.hadoop.fs.Path(log_path, f"{version:020d}.json")
        stream = log_path.getFileSystem(delta_log.newDeltaHadoopConf()).open(commit)
        try:
            text = str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()
    except Exception as exc:  # py4j: missing file or interface
        log.debug("commit %s of %s unreadable: %s", version, path, exc)
        return None
    for line in text.splitlines():
        if '"commitInfo"' in line:
            info = json.loads(line).get("commitInfo")
            return info if isinstance(info, dict) else None
    return None


def latest_version(spark: SparkSession, path: str) -> int:
    """The latest committed version of the Delta table at ``path``.

    Raises:
        pyspark.errors.AnalysisException: ``path`` is not a Delta table.
    """
    version = _from_log(spark, path)
    if version is not None:
        return version
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    assert row is not None
    return int(row["version"])


def _change_feed_direct(spark: SparkSession, path: str, start: int, end: int) -> DataFrame | None:
    from pyspark.sql import DataFrame

    if not 0 <= start <= end:
        return None  # the public reader's own error
    try:
        jvm, jspark = spark.sparkContext._jvm, spark._jsparkSession
        assert jvm is not None
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(jspark, path)
        # Delta's reader skips commits missing from the log instead of failing: read directly
        # only when the first commit of the range is there (log files are removed oldest first,
        # so then every later one is too); the public reader decides otherwise.
        log_path = delta_log.logPath()
        commit = jvm.org.apache.hadoop.fs.Path(log_path, f"{start:020d}.json")
        if not log_path.getFileSystem(delta_log.newDeltaHadoopConf()).exists(commit):
            return None
        none = jvm.scala.Option.apply(None)
        snapshot = delta_log.getSnapshotAt(end, none, none, False)
        jdf = jvm.org.apache.spark.sql.delta.commands.cdc.CDCReader.changesToBatchDF(
            delta_log, start, end, jspark, none, jvm.scala.Option.apply(snapshot), False, none)
    except Exception as exc:  # py4j: interface missing, or Delta refused; the public path decides
        log.debug("direct change feed read of %s unavailable: %s", path, exc)
        return None
    return DataFrame(jdf, spark)


def change_feed(spark: SparkSession, path: str, start: int, end: int) -> DataFrame:
    """The change feed of the Delta table at ``path`` for versions ``start..end`` (inclusive):
    the table's columns plus ``_change_type``, ``_commit_version`` and ``_commit_timestamp``,
    as ``spark.read.format("delta").option("readChangeFeed", "true")`` returns them.

    Raises:
        Delta's errors, as the public reader raises them (an ``AnalysisException`` when the
        change feed was not enabled for the range, versions are out of range or the path holds
        no table; a Java error when the log was truncated past ``start``).
    """
    direct = _change_feed_direct(spark, path, start, end)
    return direct if direct is not None else _public_change_feed(spark, path, start, end)


def _public_change_feed(spark: SparkSession, path: str, start: int, end: int) -> DataFrame:
    return (spark.read.format("delta").option("readChangeFeed", "true")
            .option("startingVersion", start).option("endingVersion", end).load(path))
