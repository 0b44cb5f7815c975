"""What a writer learns about its table without a query: its state (version, properties,
constraints) from Delta's log handle, and its own commit (version, rows written) from the log,
found by its metadata even when another writer committed after it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from sparkfs.delta_log import commit_info, table_state
from sparkfs.offline.table import Commit, OfflineTable, ReplaceAll, ReplaceRange, Upsert

SCHEMA = "user_id long, event_timestamp timestamp, x double"


def test_table_state_and_commit_info_come_from_the_log(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    assert table_state(spark, path) is None
    spark.range(3).write.format("delta").option("userMetadata", "m1").save(path)
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('sparkfs.x' = 'y')")
    spark.sql(f"ALTER TABLE delta.`{path}` ADD CONSTRAINT positive CHECK (id >= 0)")
    state = table_state(spark, path)
    assert state is not None and state.version == 2
    assert state.properties["sparkfs.x"] == "y" and state.properties["delta.constraints.positive"] == "id >= 0"
    info = commit_info(spark, path, 0)
    assert info is not None and info["userMetadata"] == "m1"
    assert info["operationMetrics"]["numOutputRows"] == "3"
    assert commit_info(spark, path, 9) is None


def test_each_write_reports_its_own_commit(spark: SparkSession, tmp_path: Path) -> None:
    table = OfflineTable("v", str(tmp_path), "abc")
    day = datetime(2026, 1, 1, 5, tzinfo=UTC)
    rows = spark.createDataFrame([(1, day, 1.0), (2, day, 2.0)], SCHEMA)
    state = table.ensure(spark, rows.schema, {"sparkfs.feature_view": "v"})
    assert state.version == 0 and state.properties["sparkfs.feature_view"] == "v"
    assert table.ensure(spark, rows.schema, {}) == state  # exists: nothing created
    first = table.write(spark, rows, ReplaceAll(), ingested_at=day, metadata={"run_id": "r1"}, after=state.version)
    assert first == Commit(1, 2)
    table.set_properties(spark, {"other": "writer"})  # a later commit, not ours
    again = table._commit(spark, json.dumps({"run_id": "r1"}, sort_keys=True), after=state.version)
    assert again == first
    ranged = table.write(spark, rows.limit(1), ReplaceRange(date(2026, 1, 1), date(2026, 1, 2)), ingested_at=day,
                         metadata={"run_id": "r2"}, after=2)
    assert ranged == Commit(3, 1) and table.read(spark).count() == 1
    changed = spark.createDataFrame([(1, day, 5.0), (3, day, 3.0)], SCHEMA)
    merged = table.write(spark, changed, Upsert(("user_id",)), ingested_at=day, metadata={"run_id": "r3"}, after=3)
    assert merged == Commit(4, 2)  # one updated, one inserted
    assert sorted(r["x"] for r in table.read(spark).collect()) == [3.0, 5.0]
