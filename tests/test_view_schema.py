"""One view schema (sparkfs.definitions.schema): the columns every layer reads a view by."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfs.definitions.loader import load_repository
from sparkfs.definitions.schema import UNKNOWN, ViewSchema, aggregate_type
from sparkfs.offline.table import schema_fingerprint

EXAMPLE = Path(__file__).resolve().parent.parent / "conf" / "features"


@pytest.mark.parametrize(("function", "source", "expected"), [
    ("count", None, "int64"), ("approx_count_distinct", "string", "int64"), ("avg", "int32", "float64"),
    ("sum", "int32", "int64"), ("sum", "int64", "int64"), ("sum", "float32", "float64"),
    ("sum", "float64", "float64"), ("max", "int32", "int32"), ("min", "string", "string"),
    ("last", "bool", "bool"), ("sum", None, UNKNOWN), ("max", None, UNKNOWN),
])
def test_an_aggregate_s_type_follows_its_function_and_column(function: str, source: str | None, expected: str) -> None:
    assert aggregate_type(function, source) == expected


def test_declared_columns_are_the_table_layout_and_keep_the_fingerprints() -> None:
    repo = load_repository(EXAMPLE)
    view = repo.feature_view("user_txn_aggs")
    schema = ViewSchema.of(view, repo.join_keys(view))
    declared = schema.declared_columns()
    assert declared[:2] == [("user_id", "int64"), ("event_timestamp", "timestamp")]
    assert declared[2:5] == [("txn_count_1h", "count(amount)"), ("txn_count_1d", "count(amount)"),
                             ("txn_count_7d", "count(amount)")]
    assert len(declared) == 2 + 3 * 4
    # the fingerprint a table written before the one schema got (its stored columns, spelled out)
    assert schema_fingerprint(declared) == schema_fingerprint(
        [("user_id", "int64"), ("event_timestamp", "timestamp")]
        + [(f"{name}_{w}", f"{fn}(amount)") for name, fn in
           (("txn_count", "count"), ("txn_amount_sum", "sum"), ("txn_amount_avg", "avg"))
           for w in ("1h", "1d", "7d", "30d")])
    # before the table exists, sum is unknown; count and avg are not; the table's types win
    assert {c.name: c.type for c in schema.features}["txn_amount_sum_1d"] == UNKNOWN
    assert {c.name: c.type for c in schema.features}["txn_count_1d"] == "int64"
    typed = ViewSchema.of(view, repo.join_keys(view), {"txn_amount_sum_1d": "double", "user_id": "bigint"})
    assert {c.name: c.type for c in typed.features}["txn_amount_sum_1d"] == "float64"
    assert typed.key_names == ["user_id"]


def test_plain_features_and_created_time_in_declared_order() -> None:
    repo = load_repository(EXAMPLE)
    view = repo.feature_view("user_profile")
    declared = ViewSchema.of(view, repo.join_keys(view)).declared_columns()
    assert declared == [("user_id", "int64"), ("event_timestamp", "timestamp"),
                        *[(f.name, f.type) for f in view.features]]
