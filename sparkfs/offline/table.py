"""One feature view's Delta table: layout, creation and atomic writes.

Layout: ``<root>/<view>/<schema fingerprint>/`` — a new table only when the stored schema
changes (keys, feature names or types); a definition change that keeps the schema (a new
description, ttl, owner) writes into the same table. Columns: the join keys,
``event_timestamp`` (UTC), the features, ``_created_at`` (views with a created column),
``_ingested_at``, and the partition column ``event_date``. Change Data Feed is on, for the online sync.

Every write is one Delta commit carrying user metadata (run id, definition version, inputs);
:meth:`OfflineTable.write` finds that commit in the log by its metadata and returns its version
and row count (the version after the write may be another writer's). What a write needs to know
about the table (does it exist, its properties and constraints) comes from Delta's log handle,
not from queries. Concurrent writers are detected by Delta's optimistic concurrency: a write is
retried (each is idempotent), and after the retries a :class:`WriteConflictError` says what
happened.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from delta.exceptions import DeltaConcurrentModificationException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkfs.delta_log import TableState, commit_info, latest_version, table_state
from sparkfs.errors import WriteConflictError
from sparkfs.offline.conform import CREATED_AT, EVENT_DATE, EVENT_TIMESTAMP, INGESTED_AT
from sparkfs.spark_errors import SparkFailure

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "Commit", "OfflineTable", "ReplaceAll", "ReplaceFrom", "ReplaceRange", "TableState", "Upsert",
    "WriteMode", "schema_fingerprint",
]

_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
#: How far back from the latest version a writer looks for its own commit.
_COMMIT_SEARCH = 100


@dataclass(frozen=True)
class ReplaceRange:
    """Replace every row with event date in [start, end) (a backfill, a ranged run)."""

    start: date
    end: date


@dataclass(frozen=True)
class ReplaceAll:
    """Replace the whole table (the first run of an incremental view)."""


@dataclass(frozen=True)
class ReplaceFrom:
    """Replace every row with ``event_timestamp >= since`` (aggregation views, incremental)."""

    since: datetime


@dataclass(frozen=True)
class Upsert:
    """MERGE on (keys, event_timestamp) (plain views, incremental); see :meth:`OfflineTable.upsert`."""

    keys: tuple[str, ...]
    created: Literal["latest", "every"] | None = None


#: How a batch is committed to the table.
WriteMode = ReplaceRange | ReplaceAll | ReplaceFrom | Upsert


@dataclass(frozen=True)
class Commit:
    """The commit a write made: its table version and the rows it wrote (inserted or updated)."""

    version: int
    rows_written: int


def rows_written(metrics: dict[str, str]) -> int:
    """Rows a commit wrote, from its ``operationMetrics`` (a write's output, a MERGE's inserts
    and updates)."""
    if "numOutputRows" in metrics:
        return int(metrics["numOutputRows"])
    if "numTargetRowsInserted" in metrics:
        return int(metrics["numTargetRowsInserted"]) + int(metrics.get("numTargetRowsUpdated", 0))
    return 0


def schema_fingerprint(columns: list[tuple[str, str]]) -> str:
    """Stable short hash of the stored columns and their declared types (decides the table)."""
    return hashlib.sha256(json.dumps(columns).encode()).hexdigest()[:12]


def _is_conflict(exc: Exception) -> bool:
    """A commit that lost to a concurrent writer (Delta's conflict types and error classes), or
    a table another writer created first: retrying it is safe."""
    if isinstance(exc, DeltaConcurrentModificationException):
        return True
    failure = SparkFailure.of(exc)
    return failure.has_class(*_CONFLICT_CLASSES) or failure.has_condition(
        "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED", "DELTA_TABLE_ALREADY_EXISTS",
        "TABLE_OR_VIEW_ALREADY_EXISTS", "DELTA_PATH_EXISTS", prefixes=("DELTA_CONCURRENT",))


#: Delta's conflict exceptions (JVM simple names; the Python ones subclass
#: ``delta.exceptions.DeltaConcurrentModificationException``).
_CONFLICT_CLASSES = (
    "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException", "ConcurrentWriteException", "ProtocolChangedException",
    "MetadataChangedException", "DeltaConcurrentModificationException",
)


@dataclass(frozen=True)
class OfflineTable:
    """Handle on one feature view table; holds no session (each method receives one)."""

    view: str
    root: str
    fingerprint: str  # schema_fingerprint of the declared stored columns

    @property
    def path(self) -> str:
        return f"{self.root.rstrip('/')}/{self.view}/{self.fingerprint}"

    @staticmethod
    def full_schema(batch: T.StructType) -> T.StructType:
        """The stored schema for a batch of keys, event_timestamp and features."""
        return T.StructType(
            [*batch.fields,
             T.StructField(INGESTED_AT, T.TimestampType(), False),
             T.StructField(EVENT_DATE, T.DateType(), False)]
        )

    def exists(self, spark: SparkSession) -> bool:
        return self.state(spark) is not None

    def state(self, spark: SparkSession) -> TableState | None:
        """Latest version and properties (constraints among them); ``None``: no table yet."""
        return table_state(spark, self.path)

    def ensure(self, spark: SparkSession, batch: T.StructType, properties: dict[str, str]) -> TableState:
        """The table's state, creating it with ``properties`` if missing (safe when two writers
        race to create it)."""
        from delta.tables import DeltaTable

        for attempt in range(5):
            state = self.state(spark)
            if state is not None:
                return state
            try:
                builder = DeltaTable.createIfNotExists(spark).location(self.path)
                builder = builder.addColumns(self.full_schema(batch)).partitionedBy(EVENT_DATE)
                for key, value in {"delta.enableChangeDataFeed": "true", **properties}.items():
                    builder = builder.property(key, value)
                builder.execute()
            except Exception as exc:
                if not _is_conflict(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        state = self.state(spark)
        assert state is not None, f"{self.path}: created, yet no Delta table there"
        return state

    def version(self, spark: SparkSession) -> int:
        return latest_version(spark, self.path)

    def read(self, spark: SparkSession, version: int | None = None) -> DataFrame:
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path)

    def properties(self, spark: SparkSession) -> dict[str, str]:
        state = self.state(spark)
        return state.properties if state is not None else {}

    @staticmethod
    def _stamp(df: DataFrame, ingested_at: Any) -> DataFrame:
        return df.withColumn(INGESTED_AT, F.lit(ingested_at).cast(T.TimestampType())).withColumn(
            EVENT_DATE, F.to_date(F.col(EVENT_TIMESTAMP))
        )

    def write(
        self, spark: SparkSession, df: DataFrame, mode: WriteMode, *, ingested_at: Any,
        metadata: dict[str, Any], after: int,
    ) -> Commit:
        """Commit ``df``'s rows as ``mode`` says, in one Delta commit carrying ``metadata``.

        ``after``: the table version before the write (from :meth:`ensure`); the commit is
        looked for after it, by its metadata, so a concurrent writer's later commit is never
        taken for ours.
        """
        text = json.dumps(metadata, sort_keys=True, default=str)
        if isinstance(mode, Upsert):
            self._upsert(spark, df, list(mode.keys), ingested_at, text, mode.created)
        elif isinstance(mode, ReplaceAll):
            self._replace(df, None, "replace all", ingested_at, text)
        elif isinstance(mode, ReplaceRange):
            predicate = f"{EVENT_DATE} >= '{mode.start.isoformat()}' AND {EVENT_DATE} < '{mode.end.isoformat()}'"
            self._replace(df, predicate, f"replace {mode.start}..{mode.end}", ingested_at, text)
        else:
            literal = f"timestamp'{mode.since.strftime('%Y-%m-%d %H:%M:%S')}'"
            predicate = f"{EVENT_TIMESTAMP} >= {literal} AND {EVENT_DATE} >= '{mode.since.date().isoformat()}'"
            self._replace(df, predicate, f"replace from {mode.since}", ingested_at, text)
        return self._commit(spark, text, after)

    def _commit(self, spark: SparkSession, user_metadata: str, after: int) -> Commit:
        """The commit after version ``after`` whose user metadata is ``user_metadata``."""
        latest = self.version(spark)
        for version in range(latest, max(after, latest - _COMMIT_SEARCH), -1):
            info = commit_info(spark, self.path, version)
            if info is None:
                break  # unreadable log: ask the history instead
            if info.get("userMetadata") == user_metadata:
                return Commit(version, rows_written(dict(info.get("operationMetrics") or {})))
        else:
            # no commit of ours: Delta committed nothing (e.g. a MERGE with no source rows)
            return Commit(latest, 0)
        from delta.tables import DeltaTable

        history = DeltaTable.forPath(spark, self.path).history(_COMMIT_SEARCH)
        row = history.where(F.col("userMetadata") == user_metadata).select("version", "operationMetrics").first()
        if row is None:
            return Commit(latest, 0)
        return Commit(int(row["version"]), rows_written(dict(row["operationMetrics"] or {})))

    def _replace(self, df: DataFrame, predicate: str | None, what: str, ingested_at: Any, user_metadata: str) -> None:
        rows = self._stamp(df, ingested_at)
        if predicate is not None:
            rows = rows.where(predicate)
        writer = (rows.select(*self.full_schema(df.schema).names).write.format("delta").mode("overwrite")
                  .option("userMetadata", user_metadata))
        if predicate is not None:
            writer = writer.option("replaceWhere", predicate)
        else:  # the whole table, even where a session asks for dynamic partition overwrites
            writer = writer.option("partitionOverwriteMode", "static")
        self._with_retries(lambda: writer.save(self.path), what)

    def _upsert(
        self, spark: SparkSession, df: DataFrame, keys: list[str], ingested_at: Any, user_metadata: str,
        created: str | None,
    ) -> None:
        """MERGE on (keys, event_timestamp): new rows inserted, changed rows updated.

        ``created="latest"`` (the batch has :data:`CREATED_AT`): a stored row is replaced only
        by a row recorded later, or recorded at the same time with other values, so a re-sent
        older row never replaces the correction stored after it (a null created time is
        oldest). ``created="every"`` (knowing time): the created time is part of the merge
        key, so each record is kept and a re-sent one matches itself.
        """
        from delta.tables import DeltaTable

        rows = self._stamp(df, ingested_at).select(*self.full_schema(df.schema).names)
        identity = [*keys, EVENT_TIMESTAMP]
        features = [c for c in df.columns if c not in identity and (created != "every" or c != CREATED_AT)]
        on = " AND ".join(f"t.`{c}` = s.`{c}`" for c in identity)
        on += " AND t.event_date = s.event_date"
        if created == "every":
            on += f" AND t.`{CREATED_AT}` <=> s.`{CREATED_AT}`"
        changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in features) or "false"
        if created == "latest":
            s_c, t_c = f"s.`{CREATED_AT}`", f"t.`{CREATED_AT}`"
            newer = f"({s_c} > {t_c} OR ({t_c} IS NULL AND {s_c} IS NOT NULL))"
            changed = f"{newer} OR ({s_c} <=> {t_c} AND ({changed}))"

        def write() -> None:
            with _commit_metadata(spark, user_metadata):
                (DeltaTable.forPath(spark, self.path).alias("t").merge(rows.alias("s"), on)
                 .whenMatchedUpdateAll(condition=changed).whenNotMatchedInsertAll().execute())

        self._with_retries(write, "upsert")

    def _with_retries(self, write: Callable[[], None], what: str, attempts: int = 4) -> None:
        for attempt in range(attempts):
            try:
                write()
                return
            except Exception as exc:
                if not _is_conflict(exc):
                    raise
                if attempt == attempts - 1:
                    raise WriteConflictError(
                        f"{self.view}: {what} lost to a concurrent writer {attempts} times "
                        f"({type(exc).__name__}); the table is unchanged by this run — rerun it"
                    ) from exc
                time.sleep(0.5 * (attempt + 1))

    def set_properties(self, spark: SparkSession, properties: dict[str, str]) -> None:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
        spark.sql(f"ALTER TABLE delta.`{self.path}` SET TBLPROPERTIES ({assignments})")


@contextmanager
def _commit_metadata(spark: SparkSession, user_metadata: str) -> Iterator[None]:
    """Delta reads MERGE commit metadata from the session; set it for this write only (a
    session per concurrent run: see :func:`sparkfs.pipeline.materialize.materialize_all`)."""
    previous = spark.conf.get(_METADATA_CONF, None)
    spark.conf.set(_METADATA_CONF, user_metadata)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(_METADATA_CONF)
        else:
            spark.conf.set(_METADATA_CONF, previous)
