"""Column lineage of every example feature, of Python transformations, and its honest unknowns."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from sparkfs.definitions import FeatureView
from sparkfs.definitions.loader import load_repository
from sparkfs.lineage.columns import ColumnLineage, column_lineage
from tests.project import REPO_ROOT

REPO = load_repository(str(REPO_ROOT / "conf" / "features"))


@pytest.fixture(scope="module")
def users(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DataFrame:
    path = str(tmp_path_factory.mktemp("users") / "users")
    spark.createDataFrame(
        [(1, datetime(2024, 1, 1), "US", 30, True, datetime(2024, 1, 2))],
        "user_id long, signup_ts timestamp, country string, age int, is_premium boolean, updated_at timestamp",
    ).write.format("delta").save(path)
    return spark.read.format("delta").load(path)


@pytest.fixture(scope="module")
def transactions(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DataFrame:
    path = str(tmp_path_factory.mktemp("txns") / "transactions")
    spark.createDataFrame(
        [(1, 1, 2, 9.5, "usd", datetime(2024, 1, 1))],
        "txn_id long, user_id long, merchant_id long, amount double, currency string, ts timestamp",
    ).write.format("delta").save(path)
    return spark.read.format("delta").load(path)


def _view(**fields: object) -> FeatureView:
    base: dict[str, object] = {"name": "v", "entities": ["user"], "source": {"type": "delta", "path": "t"},
                               "timestamp_column": "ts", "owner": "o"}
    return FeatureView.model_validate({**base, **fields})


def test_sql_projection_and_cast_from_the_analyzed_plan(users: DataFrame) -> None:
    got = column_lineage(REPO.feature_view("user_profile"), REPO, source=users, source_name="users")
    assert got == [
        ColumnLineage("age", (("users", "age"),), "transformation", "CAST(age AS INT)"),
        ColumnLineage("country", (("users", "country"),), "identity", "source column country"),
        ColumnLineage("is_premium", (("users", "is_premium"),), "identity", "source column is_premium"),
    ]


@pytest.mark.parametrize("view", ["user_txn_aggs", "merchant_txn_aggs"])
def test_aggregations_come_from_their_spec(view: str) -> None:
    definition = REPO.feature_view(view)
    assert definition.aggregations is not None
    expected = []
    for feature in definition.aggregations.features:
        for window, label in zip(definition.aggregations.windows, _labels(definition), strict=True):
            del window
            expected.append(ColumnLineage(
                f"{feature.name}_{label}", (("demo/transactions", "amount"),), "aggregation",
                f"{feature.function}(amount) over a sliding {label} window at hour grain"))
    assert column_lineage(definition, REPO) == expected
    assert [c.feature for c in expected] == definition.feature_names()


def _labels(view: FeatureView) -> list[str]:
    assert view.aggregations is not None
    return [name.removeprefix(view.aggregations.features[0].name + "_")
            for name in view.aggregations.output_names()[: len(view.aggregations.windows)]]


def test_without_the_source_a_transformation_is_unknown_and_says_why() -> None:
    got = column_lineage(REPO.feature_view("user_profile"), REPO)
    assert {c.how for c in got} == {"unknown"}
    assert all("analyzed plan" in c.detail and c.sources == () for c in got)


def test_python_transformation_lineage_from_the_plan_of_its_output(transactions: DataFrame) -> None:
    view = _view(
        transformation={"type": "python", "function": "tests.lineage.transforms:enrich"},
        features=[{"name": "amount_cents", "type": "int64"}, {"name": "ccy", "type": "string"},
                  {"name": "merchant", "type": "int64"}, {"name": "one", "type": "int32"},
                  {"name": "missing", "type": "int64"}])
    got = {c.feature: c for c in column_lineage(view, REPO, source=transactions, source_name="txns")}
    assert got["amount_cents"] == ColumnLineage("amount_cents", (("txns", "amount"),), "transformation",
                                                "CAST((amount * CAST(100 AS DOUBLE)) AS BIGINT)")
    assert got["ccy"] == ColumnLineage("ccy", (("txns", "currency"),), "transformation", "upper(currency)")
    assert got["merchant"] == ColumnLineage("merchant", (("txns", "merchant_id"),), "identity",
                                            "source column merchant_id")
    assert got["one"].how == "unknown" and "reads no source column" in got["one"].detail
    assert got["missing"] == ColumnLineage("missing", (), "unknown", "the transformation's output has no column missing")


def test_sql_aggregation_and_several_columns(transactions: DataFrame) -> None:
    view = _view(
        transformation={"type": "sql", "query": "SELECT user_id, max(ts) AS ts, sum(amount) AS total, "
                        "concat(currency, CAST(merchant_id AS STRING)) AS tag FROM {source} GROUP BY user_id, currency, merchant_id"},
        features=[{"name": "total", "type": "float64"}, {"name": "tag", "type": "string"}])
    got = {c.feature: c for c in column_lineage(view, REPO, source=transactions, source_name="txns")}
    assert got["total"] == ColumnLineage("total", (("txns", "amount"),), "aggregation", "sum(amount)")
    assert got["tag"].how == "transformation"
    assert got["tag"].sources == (("txns", "currency"), ("txns", "merchant_id"))


def test_a_union_is_declared_unknown_not_guessed(transactions: DataFrame) -> None:
    view = _view(transformation={"type": "python", "function": "tests.lineage.transforms:doubled"},
                 aggregations={"windows": ["1d"], "features": [{"name": "n", "function": "count", "column": "amount"}]})
    (got,) = column_lineage(view, REPO, source=transactions, source_name="txns")
    assert got.how == "unknown" and got.sources == ()
    assert "Union" in got.detail


def test_no_transformation_is_identity_or_the_widening_cast(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    spark.createDataFrame([(1, datetime(2024, 1, 1), 3)], "user_id long, ts timestamp, n int") \
        .write.format("delta").save(path)
    source = spark.read.format("delta").load(path)
    wide = _view(features=[{"name": "n", "type": "int64"}])
    assert column_lineage(wide, REPO, source=source, source_name="t") == [
        ColumnLineage("n", (("t", "n"),), "transformation", "CAST(n AS BIGINT) (widened to the declared int64)")]
    same = _view(features=[{"name": "n", "type": "int32"}])
    assert column_lineage(same, REPO, source=source, source_name="t") == [
        ColumnLineage("n", (("t", "n"),), "identity", "source column n")]
