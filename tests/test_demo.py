"""The demo generator: deterministic, partition-independent, and with the promised quirks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.demo.generate import ANCHOR, TABLES, WINDOW_DAYS, DemoSummary, generate_demo_data
from sparkfs.demo.tables import DemoSpec, transactions_frame, users_frame
from sparkfs.errors import ValidationError

ROWS = 20_000


def _load(spark: SparkSession, summary: DemoSummary, table: str) -> DataFrame:
    return spark.read.format("delta").load(f"{summary.out_dir}/{table}")


def _differences(a: DataFrame, b: DataFrame) -> int:
    """Rows in one and not the other, as multisets (duplicates count), in one Spark job."""
    return a.exceptAll(b).unionByName(b.exceptAll(a)).count()


@pytest.fixture(scope="module")
def demo(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    out = tmp_path_factory.mktemp("demo") / "a"
    return generate_demo_data(spark, str(out), rows=ROWS, seed=42, partitions=3)


@pytest.fixture(scope="module")
def txns(spark: SparkSession, demo: DemoSummary) -> DataFrame:
    return _load(spark, demo, "transactions").cache()


@pytest.mark.slow
def test_same_seed_other_partitioning_writes_identical_tables(
    spark: SparkSession, demo: DemoSummary, tmp_path: Path
) -> None:
    again = generate_demo_data(spark, str(tmp_path / "b"), rows=ROWS, seed=42, partitions=1)
    for table in TABLES:
        assert _differences(_load(spark, demo, table), _load(spark, again, table)) == 0, table
    assert (again.users_rows, again.transactions_rows) == (demo.users_rows, demo.transactions_rows)


def test_different_seed_gives_different_rows(spark: SparkSession) -> None:
    a = transactions_frame(spark.range(2_000), DemoSpec(rows=2_000, seed=1))
    b = transactions_frame(spark.range(2_000), DemoSpec(rows=2_000, seed=2))
    assert _differences(a, b) > 3_000
    users = users_frame(spark.range(400), DemoSpec(rows=2_000, seed=1))
    assert _differences(users, users_frame(spark.range(400), DemoSpec(rows=2_000, seed=2))) > 0


def test_schemas_and_layout(spark: SparkSession, demo: DemoSummary) -> None:
    expected = {
        "users": "user_id:bigint,signup_ts:timestamp,country:string,age:int,"
        "is_premium:boolean,updated_at:timestamp",
        "merchants": "merchant_id:bigint,category:string,country:string,risk_score:double,"
        "updated_at:timestamp",
        "transactions": "txn_id:bigint,user_id:bigint,merchant_id:bigint,amount:double,"
        "currency:string,ts:timestamp,ingested_at:timestamp,dt:date",
        "fraud_labels": "txn_id:bigint,user_id:bigint,merchant_id:bigint,ts:timestamp,is_fraud:boolean",
    }
    for table, schema in expected.items():
        got = ",".join(
            f"{f.name}:{f.dataType.simpleString()}" for f in _load(spark, demo, table).schema
        )
        assert got == schema, table
    detail = DeltaTable.forPath(spark, demo.transactions_path).detail().first()
    assert detail is not None and list(detail["partitionColumns"]) == ["dt"]


def test_row_counts(spark: SparkSession, demo: DemoSummary, txns: DataFrame) -> None:
    assert (demo.users, demo.merchants) == (ROWS // 20, ROWS // 200)

    def rows_and_ids(df: DataFrame, key: str) -> tuple[int, int]:
        row = df.agg(F.count("*"), F.countDistinct(key)).first()
        assert row is not None
        return int(row[0]), int(row[1])

    assert rows_and_ids(_load(spark, demo, "users"), "user_id") == (demo.users_rows, demo.users)
    assert demo.users * 2 < demo.users_rows < demo.users * 3, "1-4 versions, ~2.5 on average"
    merchants = _load(spark, demo, "merchants")
    assert rows_and_ids(merchants, "merchant_id") == (demo.merchants_rows, demo.merchants)
    assert rows_and_ids(txns, "txn_id") == (demo.transactions_rows, ROWS)
    labels = _load(spark, demo, "fraud_labels")
    assert rows_and_ids(labels, "txn_id") == (demo.fraud_labels_rows, ROWS)
    assert demo.fraud_labels_rows == ROWS


def test_small_minimum_sizes_and_bad_rows(spark: SparkSession, tmp_path: Path) -> None:
    assert (DemoSpec(rows=500).n_users, DemoSpec(rows=500).n_merchants) == (50, 20)
    with pytest.raises(ValidationError, match="rows=10"):
        generate_demo_data(spark, str(tmp_path), rows=10)
    with pytest.raises(ValidationError, match="partitions=0"):
        generate_demo_data(spark, str(tmp_path), rows=1_000, partitions=0)


def test_transaction_quirks_and_ranges(txns: DataFrame) -> None:
    start = ANCHOR - timedelta(days=WINDOW_DAYS)
    lag = F.col("ingested_at").cast("long") - F.col("ts").cast("long")
    row = txns.agg(
        F.count("*").alias("n"),
        F.countDistinct("txn_id").alias("ids"),
        F.count_distinct(F.struct(*txns.columns)).alias("distinct_rows"),
        F.sum((lag > 3600).cast("int")).alias("late"),
        F.sum(((lag < 1) | ((lag > 600) & (lag < 3600)) | (lag > 4 * 86400)).cast("int")).alias(
            "bad_lag"
        ),
        F.sum(F.col("merchant_id").isNull().cast("int")).alias("null_merchant"),
        F.sum(F.col("amount").isNull().cast("int")).alias("null_amount"),
        F.sum((F.col("amount") <= 0).cast("int")).alias("bad_amount"),
        F.sum(((F.col("ts") < F.lit(start)) | (F.col("ts") >= F.lit(ANCHOR))).cast("int")).alias(
            "outside_window"
        ),
        F.sum((F.to_date("ts") != F.col("dt")).cast("int")).alias("bad_dt"),
        F.countDistinct("dt").alias("days"),
        F.sum((~F.col("currency").isin("USD", "EUR", "GBP", "JPY")).cast("int")).alias("bad_ccy"),
        F.min("user_id").alias("min_user"),
        F.max("user_id").alias("max_user"),
        F.min("merchant_id").alias("min_merchant"),
        F.max("merchant_id").alias("max_merchant"),
        F.percentile_approx("amount", 0.5).alias("median"),
    ).first()
    assert row is not None
    dups = row["n"] - row["ids"]
    assert 0.003 * ROWS < dups < 0.008 * ROWS
    assert row["distinct_rows"] == row["ids"], "duplicates must be exact copies"
    assert 0.015 * ROWS < row["late"] < 0.025 * ROWS
    assert row["bad_lag"] == 0, "on-time rows arrive within 10 minutes, late ones within days"
    assert 0 < row["null_merchant"] < 0.004 * ROWS
    assert 0 < row["null_amount"] < 0.002 * ROWS
    assert row["bad_amount"] == 0 and 15 < row["median"] < 60
    assert row["outside_window"] == 0
    assert row["bad_dt"] == 0 and row["days"] == WINDOW_DAYS and row["bad_ccy"] == 0
    assert (row["min_user"], row["max_user"]) == (1, ROWS // 20)
    assert (row["min_merchant"], row["max_merchant"]) == (1, ROWS // 200)


def test_user_profiles_change_over_time(spark: SparkSession, demo: DemoSummary) -> None:
    users = _load(spark, demo, "users")
    per_user = users.groupBy("user_id").agg(
        F.count("*").alias("versions"),
        F.countDistinct("updated_at").alias("times"),
        F.min("updated_at").alias("first"),
        F.max("updated_at").alias("last"),
        F.first("signup_ts").alias("signup"),
        F.countDistinct("signup_ts").alias("signups"),
        F.countDistinct("country").alias("countries"),
        F.countDistinct("is_premium").alias("premium_states"),
    )
    row = per_user.agg(
        F.max("versions").alias("max_versions"),
        F.sum((F.col("versions") != F.col("times")).cast("int")).alias("tied"),
        F.sum((F.col("first") != F.col("signup")).cast("int")).alias("first_not_signup"),
        F.sum((F.col("signups") != 1).cast("int")).alias("signup_changes"),
        F.sum((F.col("last") >= F.lit(ANCHOR)).cast("int")).alias("future"),
        F.sum((F.col("countries") > 1).cast("int")).alias("movers"),
        F.sum((F.col("premium_states") > 1).cast("int")).alias("premium_flips"),
    ).first()
    assert row is not None
    assert row["max_versions"] == 4 and row["tied"] == 0 and row["first_not_signup"] == 0
    assert row["signup_changes"] == 0 and row["future"] == 0
    assert row["movers"] > 0 and row["premium_flips"] > 0
    ages = users.agg(F.min("age"), F.max("age")).first()
    assert ages is not None and ages[0] >= 18 and ages[1] <= 85
    in_window = users.where(F.col("updated_at") >= F.lit(ANCHOR - timedelta(days=WINDOW_DAYS)))
    assert in_window.count() > demo.users // 2, "profile changes during the window make PIT matter"


def test_references_and_labels_fit_the_transactions(
    spark: SparkSession, demo: DemoSummary, txns: DataFrame
) -> None:
    users = _load(spark, demo, "users").select("user_id").distinct()
    merchants = _load(spark, demo, "merchants")
    assert txns.join(users, "user_id", "left_anti").count() == 0
    with_merchant = txns.where(F.col("merchant_id").isNotNull())
    assert with_merchant.join(merchants, "merchant_id", "left_anti").count() == 0
    risk = merchants.agg(F.min("risk_score"), F.max("risk_score")).first()
    assert risk is not None and risk[0] >= 0.0 and risk[1] <= 1.0
    labels = _load(spark, demo, "fraud_labels")
    distinct_txns = txns.select("txn_id", "user_id", "ts").distinct()
    assert _differences(labels.select("txn_id", "user_id", "ts"), distinct_txns) == 0
    rate = labels.agg(F.avg(F.col("is_fraud").cast("double"))).first()
    assert rate is not None and 0.02 < rate[0] < 0.06
