"""Serving decodes with the types the sync recorded, not with guesses from the definition."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, text

from sparkfs.definitions import Entity, FeatureView
from sparkfs.online.checkpoints import Checkpoint
from sparkfs.pipeline.serving_catalog import SyncState, online_view_of
from sparkfs.registry.checkpoints import SqlCheckpointStore
from sparkfs.registry.database import open_engine

VIEW = FeatureView.model_validate({
    "name": "aggs", "entities": ["user"], "source": {"type": "delta", "path": "x"}, "timestamp_column": "ts", "owner": "team@example.com",
    "aggregations": {"grain": "hour", "windows": ["1d"], "features": [
        {"name": "qty_sum", "function": "sum", "column": "qty"},
        {"name": "last_country", "function": "last", "column": "country"},
    ]},
})
USER = {"user": Entity.model_validate({"name": "user", "join_keys": [{"name": "user_id", "type": "int64"}]})}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_recorded_types_of_the_same_version_win() -> None:
    recorded = (("qty_sum_1d", "bigint"), ("last_country_1d", "string"))
    synced = SyncState("v1", 3, 1, NOW, recorded)
    view = online_view_of(VIEW, "v1", USER, synced)
    assert [(f.name, f.dtype) for f in view.features] == [("qty_sum_1d", "int64"), ("last_country_1d", "string")]


def test_another_versions_record_is_not_used() -> None:
    synced = SyncState("v0", 3, 1, NOW, (("qty_sum_1d", "bigint"), ("last_country_1d", "string")))
    view = online_view_of(VIEW, "v1", USER, synced)
    assert [f.name for f in view.features] == ["qty_sum_1d", "last_country_1d"]
    assert view.version == "v1"


def test_checkpoint_records_features(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'r.db'}")
    store = SqlCheckpointStore(engine)
    store.put("aggs", Checkpoint(definition_version="v0", delta_version=1, generation=1))
    with engine.connect() as conn:  # a store that was not told the types records none
        assert conn.execute(text("SELECT features FROM sync_checkpoints")).scalar_one() == "null"
    store.will_write_features("aggs", [("qty_sum_1d", "int64")])
    store.put("aggs", Checkpoint(definition_version="v1", delta_version=2, generation=1))
    with engine.connect() as conn:  # written with the checkpoint, in one statement
        row = conn.execute(text("SELECT definition_version, features FROM sync_checkpoints")).one()
    assert tuple(row) == ("v1", '[["qty_sum_1d", "int64"]]')


def test_registry_created_before_the_features_column_gains_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE sync_checkpoints DROP COLUMN features"))
    engine.dispose()
    reopened = open_engine(url)
    assert "features" in {c["name"] for c in inspect(reopened).get_columns("sync_checkpoints")}


def test_the_served_view_carries_the_availability_delay_the_sync_and_the_join_use() -> None:
    """A lookup at t serves rows with E + delay <= t, as the point-in-time join does."""
    from datetime import timedelta

    delayed = VIEW.model_copy(update={"availability_delay": timedelta(minutes=30), "ttl": timedelta(days=2)})
    synced = SyncState("v1", 3, 1, NOW, (("qty_sum_1d", "bigint"), ("last_country_1d", "string")))
    for state in (synced, None):
        view = online_view_of(delayed, "v1", USER, state)
        assert view.availability_delay == timedelta(minutes=30) and view.ttl == timedelta(days=2)
