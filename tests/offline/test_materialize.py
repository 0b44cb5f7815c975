from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.errors import (
    GovernanceError,
    QualityGateError,
    SchemaMismatchError,
    ValidationError,
    WriteConflictError,
)
from sparkfs.pipeline.materialize import backfill, chunk_ranges, materialize, offline_table
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.offline.conftest import USERS_SCHEMA, ts, write_users

VIEW = "user_profile"
BASE = [
    (1, ts(1, 9), 30, "US", False),
    (1, ts(2, 9), 31, "US", True),
    (2, ts(2, 10), 40, "DE", None),
    (2, ts(2, 10), 40, "DE", None),  # exact duplicate: stored once
    (3, ts(3, 11), 50, "FR", False),
    (None, ts(3, 12), 1, "XX", False),  # null key: never joinable, dropped
    (4, ts(5, 1), 22, "GB", True),
]
COLS = ["user_id", "event_timestamp", "age", "country", "is_premium"]


def table_rows(spark: SparkSession, ws: Workspace):
    view = ws.repository.feature_view(VIEW)
    return offline_table(ws, view).read(spark).select(*COLS)


def expected(spark: SparkSession, rows: list[tuple], lo: int = 1, hi: int = 32):
    keep = sorted({r for r in rows if r[0] is not None and lo <= r[1].day < hi}, key=lambda r: (r[0], r[1]))
    return spark.createDataFrame(keep, USERS_SCHEMA).toDF(*COLS)


def test_range_materialize_is_idempotent_and_leaves_other_dates(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    first = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert first.status == "succeeded" and first.rows_out == 3 and first.rows_in == 4
    materialize(spark, ws, VIEW, start=date(2026, 1, 3), end=date(2026, 1, 6))
    before_other = table_rows(spark, ws).where(F.col("event_timestamp") >= "2026-01-03")
    snapshot = before_other.collect()
    again = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert again.output_version is not None and again.output_version > first.output_version
    assert_df_equality(table_rows(spark, ws), expected(spark, BASE), ignore_row_order=True, ignore_nullable=True)
    after_other = table_rows(spark, ws).where(F.col("event_timestamp") >= "2026-01-03").collect()
    assert sorted(map(tuple, after_other)) == sorted(map(tuple, snapshot))


def test_commit_metadata_properties_and_change_feed(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    run = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
    table = offline_table(ws, ws.repository.feature_view(VIEW))
    props = table.properties(spark)
    assert props["delta.enableChangeDataFeed"] == "true"
    assert props["sparkfs.definition_version"] == run.version
    history = spark.sql(f"DESCRIBE HISTORY delta.`{table.path}`").where(F.col("version") == run.output_version)
    meta = history.select("userMetadata").first()[0]
    assert run.run_id in meta and run.version in meta and "demo/users" in meta
    assert set(table.read(spark).columns) == {*COLS, "_ingested_at", "event_date"}
    assert table.read(spark).where("_ingested_at IS NULL").count() == 0


def test_runs_are_recorded(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    run = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
    [listed] = ws.runs.list(feature_view=VIEW)
    assert listed.run_id == run.run_id and listed.status == "succeeded"
    assert listed.spark_app_id == spark.sparkContext.applicationId
    assert listed.duration_s is not None and listed.duration_s > 0
    assert list((listed.input_versions or {}).values()) == [0]


def test_incremental_run_upserts_late_rows(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    first = materialize(spark, ws, VIEW)
    assert first.rows_out == 5
    late = [(5, ts(4, 23), 60, "ES", True), (1, ts(6, 8), 32, "US", True), (4, ts(5, 1), 23, "GB", True)]
    write_users(spark, ws, late)
    second = materialize(spark, ws, VIEW)
    assert second.status == "succeeded" and second.range_start is not None
    rows = {r[0:2]: r for r in map(tuple, table_rows(spark, ws).collect())}
    assert len(rows) == table_rows(spark, ws).count()  # no duplicates on (key, time)
    assert rows[(5, ts(4, 23).replace(tzinfo=None))][2] == 60  # late row within late_arrival landed
    assert rows[(4, ts(5, 1).replace(tzinfo=None))][2] == 23  # corrected value upserted
    assert rows[(1, ts(1, 9).replace(tzinfo=None))][2] == 30  # older rows untouched


def test_schema_drift_fails_before_writing_and_names_the_column(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
    table = offline_table(ws, ws.repository.feature_view(VIEW))
    version = table.version(spark)
    path = str(Path(ws.config.data_dir) / "demo" / "users")
    spark.read.format("delta").load(path).drop("country").write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true").save(path)
    with pytest.raises(SchemaMismatchError, match="country"):
        materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
    spark.read.format("delta").load(path).withColumn("country", F.lit("US")).withColumn(
        "is_premium", F.lit("yes")).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
    with pytest.raises(SchemaMismatchError, match=r"'is_premium' is string .* definition says bool"):
        materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
    assert table.version(spark) == version
    assert [r.status for r in ws.runs.list(feature_view=VIEW)][:2] == ["failed", "failed"]


def test_a_broken_query_names_spark_s_reason(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    path = Path(ws.config.features_dir) / "users.yaml"
    path.write_text(path.read_text().replace("FROM {source}", "FORM {source}"))
    fresh = Workspace.open(ws.config, user="tester")
    DefinitionStore(fresh.engine).apply(fresh.repository, user="tester")
    with pytest.raises(SchemaMismatchError, match=r"query failed against the source: "
                                                  r"\[PARSE_SYNTAX_ERROR\] Syntax error"):
        materialize(spark, fresh, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))


def test_unapplied_version_is_refused_in_production(spark: SparkSession, ws: Workspace) -> None:
    path = Path(ws.config.features_dir) / "users.yaml"
    path.write_text(path.read_text().replace("ttl: 365d", "ttl: 300d"))
    fresh = Workspace.open(ws.config, user="tester")
    with pytest.raises(GovernanceError, match="is not applied"):
        materialize(spark, fresh, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 2))


def test_bad_ranges_are_rejected(spark: SparkSession, ws: Workspace) -> None:
    with pytest.raises(ValidationError, match="before --end"):
        materialize(spark, ws, VIEW, start=date(2026, 1, 3), end=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="whole number of days"):
        chunk_ranges(date(2026, 1, 1), date(2026, 1, 3), timedelta(hours=12))
    assert chunk_ranges(date(2026, 1, 1), date(2026, 1, 4), timedelta(days=2)) == [
        (date(2026, 1, 1), date(2026, 1, 3)), (date(2026, 1, 3), date(2026, 1, 4))]


def test_backfill_resumes_after_a_crash(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    calls = []

    def crash_on_third_chunk(*args: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise QualityGateError("simulated crash in chunk 3")

    with pytest.raises(QualityGateError):
        backfill(spark, ws, VIEW, date(2026, 1, 1), date(2026, 1, 6), step=timedelta(days=1), gate=crash_on_third_chunk)
    seen: list[tuple[int, int, int]] = []
    result = backfill(spark, ws, VIEW, date(2026, 1, 1), date(2026, 1, 6), step=timedelta(days=1),
                      on_progress=lambda d, t, r: seen.append((d, t, r)))
    assert result.chunks_total == 5 and result.chunks_skipped == 2 and len(result.runs) == 3
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5] and all(s[1] == 5 for s in seen)
    assert_df_equality(table_rows(spark, ws), expected(spark, BASE), ignore_row_order=True, ignore_nullable=True)
    assert backfill(spark, ws, VIEW, date(2026, 1, 1), date(2026, 1, 6), step=timedelta(days=1)).chunks_skipped == 5


def test_concurrent_writers_never_duplicate(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, BASE)
    materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))  # create the table
    outcomes: list[str] = []

    def run() -> None:
        try:
            materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 10))
            outcomes.append("ok")
        except WriteConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 3 and "ok" in outcomes
    assert_df_equality(table_rows(spark, ws), expected(spark, BASE), ignore_row_order=True, ignore_nullable=True)
