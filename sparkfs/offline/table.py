"""One feature view's Delta table: layout, creation and atomic writes.

Layout: ``<root>/<view>/<schema fingerprint>/`` — a new table only when the stored schema
changes (keys, feature names or types); a definition change that keeps the schema (a new
description, ttl, owner) writes into the same table. Columns: the join keys,
``event_timestamp`` (UTC), the features, ``_created_at`` (views with a created column),
``_ingested_at``, and the partition column ``event_date``. Change Data Feed is on, for the online sync.

Every write is one Delta commit carrying user metadata (run id, definition version, inputs).
Concurrent writers are detected by Delta's optimistic concurrency: a range replace is retried
(it is idempotent), and after the retries a :class:`WriteConflictError` says what happened.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from delta.exceptions import DeltaConcurrentModificationException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkfs.delta_log import latest_version
from sparkfs.errors import WriteConflictError
from sparkfs.offline.conform import CREATED_AT, EVENT_DATE, EVENT_TIMESTAMP, INGESTED_AT
from sparkfs.spark_errors import SparkFailure

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["OfflineTable", "schema_fingerprint"]

_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


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
        from delta.tables import DeltaTable

        return bool(DeltaTable.isDeltaTable(spark, self.path))

    def ensure(self, spark: SparkSession, batch: T.StructType, properties: dict[str, str]) -> None:
        """Create the table if missing (safe when two writers race to create it)."""
        from delta.tables import DeltaTable

        for attempt in range(5):
            if self.exists(spark):
                return
            try:
                builder = DeltaTable.createIfNotExists(spark).location(self.path)
                builder = builder.addColumns(self.full_schema(batch)).partitionedBy(EVENT_DATE)
                for key, value in {"delta.enableChangeDataFeed": "true", **properties}.items():
                    builder = builder.property(key, value)
                builder.execute()
                return
            except Exception as exc:
                if not _is_conflict(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def version(self, spark: SparkSession) -> int:
        return latest_version(spark, self.path)

    def read(self, spark: SparkSession, version: int | None = None) -> DataFrame:
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path)

    def properties(self, spark: SparkSession) -> dict[str, str]:
        row = spark.sql(f"DESCRIBE DETAIL delta.`{self.path}`").select("properties").first()
        return dict(row["properties"] or {}) if row is not None else {}

    @staticmethod
    def _stamp(df: DataFrame, ingested_at: Any) -> DataFrame:
        return df.withColumn(INGESTED_AT, F.lit(ingested_at).cast(T.TimestampType())).withColumn(
            EVENT_DATE, F.to_date(F.col(EVENT_TIMESTAMP))
        )

    def replace_range(
        self, spark: SparkSession, df: DataFrame, start: date, end: date, *, ingested_at: Any, metadata: dict[str, Any]
    ) -> int:
        """Atomically replace every row with event date in [start, end) by ``df``'s rows."""
        predicate = f"{EVENT_DATE} >= '{start.isoformat()}' AND {EVENT_DATE} < '{end.isoformat()}'"
        return self._replace(spark, df, predicate, f"replace {start}..{end}", ingested_at, metadata)

    def replace_from(
        self, spark: SparkSession, df: DataFrame, since: Any, *, ingested_at: Any, metadata: dict[str, Any]
    ) -> int:
        """Atomically replace every row with event_timestamp >= ``since`` (aggregation upserts)."""
        literal = f"timestamp'{since.strftime('%Y-%m-%d %H:%M:%S')}'"
        predicate = f"{EVENT_TIMESTAMP} >= {literal} AND {EVENT_DATE} >= '{since.date().isoformat()}'"
        return self._replace(spark, df, predicate, f"replace from {since}", ingested_at, metadata)

    def _replace(
        self, spark: SparkSession, df: DataFrame, predicate: str, what: str, ingested_at: Any, metadata: dict[str, Any]
    ) -> int:
        rows = self._stamp(df, ingested_at).where(predicate).select(*self.full_schema(df.schema).names)

        def write() -> None:
            (rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
             .option("userMetadata", json.dumps(metadata, sort_keys=True, default=str)).save(self.path))

        self._with_retries(write, what)
        return self.version(spark)

    def upsert(
        self, spark: SparkSession, df: DataFrame, keys: list[str], *, ingested_at: Any, metadata: dict[str, Any],
        created: str | None = None,
    ) -> int:
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
            with _commit_metadata(spark, metadata):
                (DeltaTable.forPath(spark, self.path).alias("t").merge(rows.alias("s"), on)
                 .whenMatchedUpdateAll(condition=changed).whenNotMatchedInsertAll().execute())

        self._with_retries(write, "upsert")
        return self.version(spark)

    def _with_retries(self, write: Any, what: str, attempts: int = 4) -> None:
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
def _commit_metadata(spark: SparkSession, metadata: dict[str, Any]) -> Iterator[None]:
    """Delta reads MERGE commit metadata from the session; set it for this write only."""
    previous = spark.conf.get(_METADATA_CONF, None)
    spark.conf.set(_METADATA_CONF, json.dumps(metadata, sort_keys=True, default=str))
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(_METADATA_CONF)
        else:
            spark.conf.set(_METADATA_CONF, previous)
