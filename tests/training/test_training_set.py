from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from sparkfs.errors import NotFoundError, ValidationError
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.training_sets import reproduce_training_set, write_training_set
from sparkfs.pipeline.workspace import Workspace
from sparkfs.store import FeatureStore
from tests.offline.conftest import ts, write_users

SPINE_SCHEMA = T.StructType([T.StructField("user_id", T.LongType()), T.StructField("event_timestamp", T.TimestampType()),
                             T.StructField("label", T.IntegerType())])
USERS = [(1, ts(1, 9), 30, "US", False), (1, ts(3, 9), 31, "US", True), (2, ts(2, 10), 40, "DE", None)]
SPINE = [(1, ts(2, 0), 0), (1, ts(4, 0), 1), (1, ts(4, 0), 1), (2, ts(1, 0), 0), (None, ts(4, 0), 0), (3, ts(4, 0), 1)]


def spine_df(spark: SparkSession):
    return spark.createDataFrame(SPINE, SPINE_SCHEMA)


def test_get_training_set_is_point_in_time_correct(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, USERS)
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    fs = FeatureStore(spark, ws)
    out = fs.get_training_set(spine_df(spark), features=["user_profile:age", "user_profile:is_premium"])
    rows = sorted(
        (r["user_id"] or -1, r["event_timestamp"], r["label"], r["user_profile__age"], r["user_profile__is_premium"])
        for r in out.collect()
    )
    naive = lambda d, h: datetime(2026, 1, d, h)  # noqa: E731
    assert rows == sorted([
        (1, naive(2, 0), 0, 30, False), (1, naive(4, 0), 1, 31, True), (1, naive(4, 0), 1, 31, True),
        (2, naive(1, 0), 0, None, None), (-1, naive(4, 0), 0, None, None), (3, naive(4, 0), 1, None, None),
    ])


def test_reproduce_is_identical_after_a_backfilled_correction(spark: SparkSession, ws: Workspace, tmp_path: Path) -> None:
    write_users(spark, ws, USERS)
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    spine_path = str(tmp_path / "spine")
    spine_df(spark).write.format("delta").save(spine_path)
    first = write_training_set(spark, ws, spine_path=spine_path, out=str(tmp_path / "ts1"),
                               features=["user_profile:*"], fmt="parquet")
    # correction: user 1's age at day 3 was wrong
    write_users(spark, ws, [(1, ts(1, 9), 30, "US", False), (1, ts(3, 9), 99, "US", True), (2, ts(2, 10), 40, "DE", None)],
                mode="overwrite")
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    reproduce_training_set(spark, ws, first.id, str(tmp_path / "ts2"))
    original = spark.read.parquet(str(tmp_path / "ts1"))
    rebuilt = spark.read.parquet(str(tmp_path / "ts2"))
    assert_df_equality(original, rebuilt, ignore_row_order=True)
    fresh = write_training_set(spark, ws, spine_path=spine_path, out=str(tmp_path / "ts3"), features=["user_profile:age"])
    ages = {r["user_profile__age"] for r in spark.read.parquet(str(tmp_path / "ts3")).collect()}
    assert 99 in ages and 99 not in {r["user_profile__age"] for r in original.collect()}
    assert fresh.table_versions["user_profile"] > first.table_versions["user_profile"]


def test_as_of_timestamp_and_version(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, USERS)
    run1 = materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    write_users(spark, ws, [(1, ts(3, 9), 77, "US", True)], mode="overwrite")
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    fs = FeatureStore(spark, ws)
    pinned = fs.get_training_set(spine_df(spark), features=["user_profile:age"], as_of={"user_profile": run1.output_version})
    assert 31 in {r["user_profile__age"] for r in pinned.collect()}
    now = fs.get_training_set(spine_df(spark), features=["user_profile:age"], as_of=datetime.now(UTC))
    assert 77 in {r["user_profile__age"] for r in now.collect()}
    with pytest.raises(ValidationError, match="did not exist yet"):
        fs.get_training_set(spine_df(spark), features=["user_profile:age"], as_of=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="has no Delta version 999"):
        fs.get_training_set(spine_df(spark), features=["user_profile:age"], as_of={"user_profile": 999})


def test_vacuumed_version_fails_before_any_job(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, USERS)
    run1 = materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    path = offline_table(ws, ws.repository.feature_view("user_profile")).path
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    with pytest.raises(ValidationError, match="vacuumed"):
        FeatureStore(spark, ws).get_training_set(spine_df(spark), features=["user_profile:age"],
                                                 as_of={"user_profile": run1.output_version})


def test_clear_errors(spark: SparkSession, ws: Workspace) -> None:
    fs = FeatureStore(spark, ws)
    with pytest.raises(NotFoundError, match="no offline table"):
        fs.get_training_set(spine_df(spark), features=["user_profile:age"])
    write_users(spark, ws, USERS)
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    with pytest.raises(NotFoundError, match="has no feature 'height'"):
        fs.get_training_set(spine_df(spark), features=["user_profile:height"])
    with pytest.raises(ValidationError):
        fs.get_training_set(spine_df(spark).drop("user_id"), features=["user_profile:age"])
    with pytest.raises(ValidationError, match="either features"):
        fs.get_training_set(spine_df(spark))


def test_a_spine_written_by_pandas_reads_its_nanosecond_timestamps(spark: SparkSession, tmp_path: Path) -> None:
    import pandas as pd

    from sparkfs.training.inputs import read_spine

    stamps = pd.to_datetime(["2026-01-02 03:04:05.123456789"])
    pd.DataFrame({"user_id": [1], "event_timestamp": stamps}).to_parquet(tmp_path / "spine.parquet")
    df, info = read_spine(spark, str(tmp_path / "spine.parquet"))
    assert info == {"format": "parquet"} and dict(df.dtypes)["event_timestamp"] == "timestamp"
    assert df.collect()[0]["event_timestamp"] == datetime(2026, 1, 2, 3, 4, 5, 123456)
