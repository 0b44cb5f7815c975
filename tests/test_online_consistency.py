"""``sparkfs consistency`` / ``FeatureStore.check_consistency`` on the example repository: after
a sync every sampled entity agrees with the point-in-time join at the same instant, also hours
later with no new sync; a tampered Redis value is reported and the CLI exits 1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.demo.generate import generate_demo_data
from sparkfs.errors import ValidationError
from sparkfs.online.generations import Generations
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix
from sparkfs.online.topology import make_client
from sparkfs.online.writer import BulkWriter, WriteMode
from sparkfs.pipeline.consistency import check_consistency
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.sync import online_target, online_view, sync_online
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import Project, make_project

VIEWS = ["user_profile", "user_txn_aggs"]


@pytest.fixture()
def synced(spark: SparkSession, tmp_path: Path, redis_url: str) -> tuple[Project, Workspace]:
    project = make_project(tmp_path, redis_url=redis_url)
    ws = Workspace.open(str(project.config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generate_demo_data(spark, str(Path(ws.config.data_dir) / "demo"), rows=3000, seed=5,
                       anchor=today)
    for name in VIEWS:
        materialize(spark, ws, name)
    sync_online(spark, ws, VIEWS)
    return project, ws


def test_online_agrees_with_offline_now_and_later_then_a_tampered_value_is_caught(
        spark: SparkSession, synced: tuple[Project, Workspace]) -> None:
    _, ws = synced
    now = datetime.now(UTC)
    for at in (now, now + timedelta(hours=2), now + timedelta(days=3)):
        results = check_consistency(spark, ws, VIEWS, sample=200, at=at)
        assert [(r.view, r.mismatched) for r in results] == [(v, 0) for v in VIEWS], at
        assert all(r.checked > 50 for r in results)

    # overwrite one user's value with a wrong count: the check finds exactly that entity
    view, _ = online_view(spark, ws, "user_txn_aggs")
    target = online_target(ws)
    gen = Generations(make_client(target), target.namespace).live(view.name, view.version)
    assert gen is not None
    key = data_prefix(target.namespace, view.name, view.version, gen) + \
        EntityKeyCodec(view).encode((1,))
    codec = ValueCodec(view)
    raw = make_client(target).get(key)
    assert raw is not None
    ev, ing, values = codec.decode_points(raw)[0]
    values[view.feature_names.index("txn_count_30d")] = 10**6
    writer = BulkWriter(target, now_ms=int(now.timestamp() * 1000), ttl_ms=0)
    writer.write(WriteMode.FRESH, [key], [codec.encode(ev, ing, values)])
    writer.close()
    [result] = check_consistency(spark, ws, ["user_txn_aggs"], sample=10_000, at=now)
    assert result.mismatched == 1
    [example] = result.examples
    assert example.entity == {"user_id": 1} and set(example.values) == {"txn_count_30d"}
    assert example.values["txn_count_30d"][0] == 10**6
    assert "txn_count_30d: online 1000000" in example.describe()


def test_an_unsynced_or_offline_only_view_is_refused(spark: SparkSession, tmp_path: Path,
                                                     redis_url: str) -> None:
    project = make_project(tmp_path, redis_url=redis_url)
    ws = Workspace.open(str(project.config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generate_demo_data(spark, str(Path(ws.config.data_dir) / "demo"), rows=500, seed=1,
                       anchor=today)
    materialize(spark, ws, "user_profile")
    with pytest.raises(ValidationError, match=r"has not been synced.*sparkfs sync user_profile"):
        check_consistency(spark, ws, ["user_profile"])
    with pytest.raises(ValidationError, match="positive"):
        check_consistency(spark, ws, ["user_profile"], sample=0)


@pytest.mark.slow
def test_the_cli_prints_the_rate_per_view_and_exits_1_on_a_mismatch(
        synced: tuple[Project, Workspace], redis_url: str) -> None:
    project, ws = synced
    ok = project.run("consistency", "--sample", "100", *VIEWS)
    assert ok.returncode == 0, ok.stderr
    for name in VIEWS:
        assert f"{name}@" in ok.stdout and "0 of 100 entities differ (0.00%)" in ok.stdout
    # Redis loses every key: all sampled entities now differ
    make_client(online_target(ws)).flushall()
    bad = project.run("consistency", "--sample", "20", "user_profile")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    # users whose profile is outside its ttl have no row offline either: those still agree
    differ = re.search(r"user_profile@\w+ \(delta version \d+\): (\d+) of 20 entities differ",
                       bad.stdout)
    assert differ is not None and int(differ.group(1)) > 0, bad.stdout
    assert "online not_found" in bad.stdout
    assert project.run("consistency", "--at", "yesterday").returncode == 2
