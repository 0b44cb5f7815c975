"""sparkfs.model_inputs: one encoding of a model's input, from training sets and lookups."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sparkfs.errors import ValidationError
from sparkfs.model_inputs import column_of, model_matrix, online_frame

RESPONSE = {
    "features": ["user_profile:age", "user_profile:is_premium", "user_txn_aggs:txn_count_1d"],
    "rows": [
        {"entity": {"user_id": 1}, "features": {
            "user_profile:age": {"value": 31, "status": "PRESENT", "event_time": "2026-01-01T00:00:00Z"},
            "user_profile:is_premium": {"value": True, "status": "PRESENT", "event_time": "2026-01-01T00:00:00Z"},
            "user_txn_aggs:txn_count_1d": {"value": 4, "status": "PRESENT", "event_time": "2026-01-02T00:00:00Z"}}},
        {"entity": {"user_id": 2}, "features": {
            "user_profile:age": {"value": None, "status": "NOT_FOUND", "event_time": None},
            "user_profile:is_premium": {"value": None, "status": "NOT_FOUND", "event_time": None},
            "user_txn_aggs:txn_count_1d": {"value": None, "status": "OUTSIDE_MAX_AGE", "event_time": None}}},
    ],
}
COLUMNS = ["user_profile__age", "user_profile__is_premium", "user_txn_aggs__txn_count_1d"]


def test_a_lookup_becomes_the_training_set_columns_and_the_same_matrix() -> None:
    online = online_frame(RESPONSE)
    assert list(online.columns) == ["user_id", *COLUMNS]
    offline = pd.DataFrame({"user_id": [1, 2], "user_profile__age": pd.array([31, None], dtype="Int32"),
                            "user_profile__is_premium": [True, None], "user_txn_aggs__txn_count_1d": [4.0, math.nan]})
    pd.testing.assert_frame_equal(model_matrix(online, COLUMNS), model_matrix(offline, COLUMNS))
    assert model_matrix(online, COLUMNS).iloc[0].tolist() == [31.0, 1.0, 4.0]
    assert model_matrix(online, COLUMNS).iloc[1].isna().all()


def test_missing_or_non_numeric_columns_are_named() -> None:
    frame = online_frame(RESPONSE)
    with pytest.raises(ValidationError, match=r"lacks the model's columns \['merchant_txn_aggs__txn_count_1d'\]"):
        model_matrix(frame, [*COLUMNS, "merchant_txn_aggs__txn_count_1d"])
    with pytest.raises(ValidationError, match="column 'country' holds non-numeric values"):
        model_matrix(pd.DataFrame({"country": ["DE", "US"]}), ["country"])
    with pytest.raises(ValidationError, match="write view:feature"):
        column_of("age")
    assert column_of("user_profile:age") == "user_profile__age"
