"""The sync glue: definitions -> OnlineView, registry checkpoints, runs, retirement, sandbox."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from pyspark.sql import SparkSession
from sqlalchemy import text

from sparkfs.errors import ValidationError
from sparkfs.online.reader import OnlineReader, Status
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.sync import online_target, online_view, sync_online
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from sparkfs.registry.checkpoints import SqlCheckpointStore
from tests.offline.conftest import write_users
from tests.project import make_project

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture()
def live_ws(tmp_path: Path, redis_url: str) -> Workspace:
    project = make_project(tmp_path, redis_url=redis_url)
    ws = Workspace.open(str(project.config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    return ws


def lookup(ws: Workspace, spark: SparkSession, ids: list[int]) -> list[tuple]:
    view, _ = online_view(spark, ws, "user_profile")
    reader = OnlineReader(online_target(ws))
    try:
        answers = reader.read([view], [{"user_id": i} for i in ids])
    finally:
        reader.close()
    return [(a["user_profile"].status, (a["user_profile"].values or {}).get("age")) for a in answers]


def test_sync_pushes_latest_values_and_records_runs(spark: SparkSession, live_ws: Workspace) -> None:
    old = NOW - timedelta(days=400)  # outside the 365d ttl: never written
    write_users(spark, live_ws, [
        (1, NOW - timedelta(days=2), 30, "US", False), (1, NOW - timedelta(days=1), 31, "US", True),
        (2, old, 50, "DE", False),
    ])
    materialize(spark, live_ws, "user_profile")
    [result] = sync_online(spark, live_ws, ["user_profile"])
    assert result.mode == "full" and result.entities_written == 1
    assert lookup(live_ws, spark, [1, 2, 3]) == [(Status.PRESENT, 31), (Status.NOT_FOUND, None), (Status.NOT_FOUND, None)]
    checkpoint = SqlCheckpointStore(live_ws.engine).get("user_profile")
    assert checkpoint is not None and checkpoint.definition_version == result.definition_version
    with live_ws.engine.connect() as conn:  # the types serving decodes with, stored with the checkpoint
        recorded = conn.execute(text("SELECT features FROM sync_checkpoints WHERE feature_view = 'user_profile'")).scalar_one()
    assert json.loads(recorded) == [["age", "int32"], ["country", "string"], ["is_premium", "bool"]]
    [run] = live_ws.runs.list(feature_view="user_profile", job="sync")
    assert run.status == "succeeded" and run.rows_out == 1
    # incremental: a new value for user 1 and a new user 3
    write_users(spark, live_ws, [(1, NOW - timedelta(hours=1), 32, "US", True), (3, NOW - timedelta(hours=2), 20, "FR", False)])
    materialize(spark, live_ws, "user_profile")
    [again] = sync_online(spark, live_ws, ["user_profile"])
    assert again.mode == "incremental"
    assert lookup(live_ws, spark, [1, 3]) == [(Status.PRESENT, 32), (Status.PRESENT, 20)]


def test_offline_only_view_and_unmaterialized_view_are_refused(spark: SparkSession, live_ws: Workspace) -> None:
    with pytest.raises(ValidationError, match="no offline table yet; run `sparkfs materialize user_profile`"):
        sync_online(spark, live_ws, ["user_profile"])
    path = Path(live_ws.config.features_dir) / "users.yaml"
    path.write_text(path.read_text().replace("    online: true\n", "    online: false\n", 1))
    offline_only = Workspace.open(live_ws.config, user="tester")
    with pytest.raises(ValidationError, match="'user_profile' has online: false; it is not synced"):
        sync_online(spark, offline_only, ["user_profile"])


def test_an_aggregate_is_served_with_its_source_column_s_type(spark: SparkSession, live_ws: Workspace) -> None:
    """sum over an integer column is int64 and max keeps the column's type, online as offline
    (the one view schema, sparkfs.definitions.schema); count is int64 and avg float64."""
    path = Path(live_ws.config.features_dir) / "users.yaml"
    text_ = path.read_text()
    assert "- {name: txn_amount_sum, function: sum, column: amount}" in text_
    path.write_text(text_.replace(
        "- {name: txn_amount_sum, function: sum, column: amount}",
        "- {name: txn_amount_sum, function: sum, column: units}\n        - {name: units_max, function: max, column: units}"))
    ws = Workspace.open(live_ws.config, user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    source = ws.repository.feature_view("user_txn_aggs").source
    spark.sql(
        "SELECT CAST(1 AS bigint) AS user_id, CAST(2 AS bigint) AS merchant_id, 12.5D AS amount, "
        "CAST(3 AS int) AS units, current_timestamp() - INTERVAL 2 HOURS AS ts"
    ).write.format(source.type).mode("overwrite").save(f"{ws.config.data_dir}/{source.path}")
    materialize(spark, ws, "user_txn_aggs")
    view, _ = online_view(spark, ws, "user_txn_aggs")
    types = {f.name: f.dtype for f in view.features}
    assert types["txn_amount_sum_1d"] == "int64"
    assert types["units_max_1d"] == "int32"
    assert types["txn_count_1d"] == "int64" and types["txn_amount_avg_1d"] == "float64"
    sync_online(spark, ws, ["user_txn_aggs"])
    reader = OnlineReader(online_target(ws))
    try:
        [answer] = reader.read([view], [{"user_id": 1}])
    finally:
        reader.close()
    values = answer["user_txn_aggs"].values or {}
    assert values["txn_amount_sum_1d"] == 3 and isinstance(values["txn_amount_sum_1d"], int)
    assert values["units_max_1d"] == 3 and values["txn_count_1d"] == 1


def test_removed_views_lose_their_keys(spark: SparkSession, live_ws: Workspace, redis_url: str) -> None:
    write_users(spark, live_ws, [(1, NOW - timedelta(days=1), 31, "US", True)])
    materialize(spark, live_ws, "user_profile", start=(NOW - timedelta(days=3)).date(), end=(NOW + timedelta(days=1)).date())
    sync_online(spark, live_ws, ["user_profile"])
    client = redis.Redis.from_url(redis_url)
    assert any(b"user_profile" in k for k in client.keys("*"))
    path = Path(live_ws.config.features_dir) / "users.yaml"
    path.write_text(path.read_text().replace("    online: true\n", "    online: false\n", 1))
    ws2 = Workspace.open(live_ws.config, user="tester")
    DefinitionStore(ws2.engine).apply(ws2.repository, user="tester")
    from sparkfs.pipeline.sync import retire_views

    assert retire_views(ws2) == ["user_profile"]
    assert not any(b"user_profile" in k for k in client.keys("*"))
    assert SqlCheckpointStore(ws2.engine).get("user_profile") is None


def test_sandbox_sync_uses_its_own_keys_and_tables(spark: SparkSession, live_ws: Workspace, redis_url: str) -> None:
    write_users(spark, live_ws, [(1, NOW - timedelta(days=1), 31, "US", True)])
    sandbox = live_ws.in_namespace("sandbox")
    materialize(spark, sandbox, "user_profile", start=date(2000, 1, 1), end=(NOW + timedelta(days=1)).date())
    sync_online(spark, sandbox, ["user_profile"])
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert keys and all(k.startswith(b"sfs-sandbox:") for k in keys)
    assert not Path(live_ws.config.offline.root).exists() or not any(Path(live_ws.config.offline.root).iterdir())
    assert lookup(sandbox, spark, [1]) == [(Status.PRESENT, 31)]
