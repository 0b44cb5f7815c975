"""Impact analysis: the downstream of a backfill run names what was built from its version, and
not what was built before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from sparkfs.demo.generate import generate_demo_data
from sparkfs.lineage.query import lineage
from sparkfs.lineage.store import LineageStore
from sparkfs.pipeline.materialize import backfill, materialize
from sparkfs.pipeline.sync import sync_online
from sparkfs.pipeline.training_sets import write_training_set
from sparkfs.pipeline.workspace import Workspace
from tests.project import make_project
from tests.redis_server import RedisServer


def test_downstream_of_a_backfill_reaches_later_builds_only(spark: SparkSession, redis_server: RedisServer,
                                                          tmp_path: Path) -> None:
    redis_server.client().flushall()
    project = make_project(tmp_path, redis_url=redis_server.url)
    ws = Workspace.open(str(project.config), user="tester")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    demo = generate_demo_data(spark, str(Path(ws.config.data_dir) / "demo"), rows=1_000, seed=3, anchor=today)
    ws.definitions.apply(ws.repository, user="tester")
    features = ["user_txn_aggs:*"]
    first = materialize(spark, ws, "user_txn_aggs")
    before = write_training_set(spark, ws, spine_path=demo.fraud_labels_path, out=str(tmp_path / "ts_before"),
                                features=features, timestamp_column="ts")
    sync_online(spark, ws, ["user_txn_aggs"])
    result = backfill(spark, ws, "user_txn_aggs", (today - timedelta(days=3)).date(), today.date(),
                      step=timedelta(days=7))
    (chunk,) = result.runs
    after = write_training_set(spark, ws, spine_path=demo.fraud_labels_path, out=str(tmp_path / "ts_after"),
                               features=features, timestamp_column="ts")
    (second_sync,) = sync_online(spark, ws, ["user_txn_aggs"])
    assert after.table_versions["user_txn_aggs"] > before.table_versions["user_txn_aggs"]

    impact = lineage(ws, chunk.run_id, direction="downstream")
    assert impact.ids("training_set") == {f"training_set:{after.id}"}
    syncs = [r for r in LineageStore(ws.engine).runs() if r.job == "sync"]
    assert [f"run:{r.run_id}" for r in syncs if f"run:{r.run_id}" in impact.ids("run")] == [f"run:{syncs[-1].run_id}"]
    assert impact.ids("online_generation") == {f"online_generation:sfs/user_txn_aggs@{second_sync.generation}"}
    assert f"run:{first.run_id}" not in impact.ids()
    assert impact.node(f"run:{chunk.run_id}").attrs["job"] == "backfill"
    window = impact.node(f"run:{chunk.run_id}").attrs["details"]["window"]
    assert window["mode"] == "range" and window["start"].startswith(str((today - timedelta(days=3)).date()))

    # the earlier build is downstream of the first materialization, which reached both
    earlier = lineage(ws, first.run_id, direction="downstream")
    assert earlier.ids("training_set") == {f"training_set:{before.id}", f"training_set:{after.id}"}
    # and upstream of the later training set are both the first run and the backfill
    upstream = lineage(ws, after.id, direction="upstream")
    assert {f"run:{first.run_id}", f"run:{chunk.run_id}"} <= upstream.ids("run")
    assert f"run:{chunk.run_id}" not in lineage(ws, before.id, direction="upstream").ids()
