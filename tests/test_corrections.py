"""Corrections end to end: a created time resolves rows with equal keys and event time.

Rows arrive in an incremental run, corrections (same user and event time, a later created time,
*smaller* values: the greatest-tuple rule would keep the wrong one) arrive in a later
incremental run and in a backfill, re-sent older rows (an earlier created time, ingested later)
come with them; then a sync, and an incremental sync after one more correction. The offline
table, the training set and the online value are the corrected ones each time, and a re-sent
older row changes nothing. The knowing-time view gives a training set what was known at T.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from sparkfs.definitions.loader import FeatureRef
from sparkfs.online.reader import OnlineReader
from sparkfs.pipeline.materialize import backfill, materialize, offline_table
from sparkfs.pipeline.sync import online_target, online_view, sync_online
from sparkfs.pipeline.training_sets import build_training_set
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import make_project

NOW = datetime.now(UTC).replace(microsecond=0)
E1, E0 = NOW - timedelta(hours=3), NOW - timedelta(hours=5)
VIEWS = ("user_scores", "user_scores_known")
SCHEMA = T.StructType([
    T.StructField("user_id", T.LongType()), T.StructField("event_ts", T.TimestampType()),
    T.StructField("created", T.TimestampType()), T.StructField("score", T.DoubleType()),
])
FEATURES = """feature_views:
  - name: user_scores
    entities: [user]
    source: {type: delta, path: demo/scores}
    timestamp_column: event_ts
    created_timestamp_column: created
    features: [{name: score, type: float64}]
    owner: risk-team@example.com
    expectations: [{type: not_null, column: created}]   # the declared name, stored as _created_at
  - name: user_scores_known
    entities: [user]
    source: {type: delta, path: demo/scores}
    timestamp_column: event_ts
    created_timestamp_column: created
    availability: created
    features: [{name: score, type: float64}]
    owner: risk-team@example.com
"""


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@pytest.fixture()
def ws(tmp_path: Path, redis_url: str) -> Workspace:
    project = make_project(tmp_path, redis_url=redis_url)
    (project.features / "scores.yaml").write_text(FEATURES)
    workspace = Workspace.open(str(project.config), user="tester")
    DefinitionStore(workspace.engine).apply(workspace.repository, user="tester")
    return workspace


def arrive(spark: SparkSession, ws: Workspace, rows: list[tuple]) -> None:
    path = str(Path(ws.config.data_dir) / "demo" / "scores")
    spark.createDataFrame(rows, SCHEMA).write.format("delta").mode("append").save(path)


def offline(spark: SparkSession, ws: Workspace, view: str = "user_scores") -> dict[tuple, tuple]:
    table = offline_table(ws, ws.repository.feature_view(view)).read(spark)
    return {(r.user_id, r.event_timestamp.replace(tzinfo=UTC)): (r.score, r._created_at.replace(tzinfo=UTC))
            for r in table.collect()}


def records(spark: SparkSession, ws: Workspace) -> set[tuple]:
    """The knowing-time table: every record, one per user, event time and created time."""
    table = offline_table(ws, ws.repository.feature_view("user_scores_known")).read(spark)
    return {(r.user_id, r.event_timestamp.replace(tzinfo=UTC), r._created_at.replace(tzinfo=UTC),
             r.score) for r in table.collect()}


def trained(spark: SparkSession, ws: Workspace, at: datetime) -> dict[tuple[int, str], float | None]:
    spine = spark.createDataFrame([(u, at) for u in (1, 2)], "user_id long, event_timestamp timestamp")
    refs = [FeatureRef(v, "score") for v in VIEWS]
    rows = build_training_set(spark, ws, spine, refs=refs).df.collect()
    return {(r.user_id, v): r[f"{v}__score"] for r in rows for v in VIEWS}


def online(spark: SparkSession, ws: Workspace) -> dict[tuple[int, str], float | None]:
    views = [online_view(spark, ws, v)[0] for v in VIEWS]
    reader = OnlineReader(online_target(ws))
    try:
        answers = reader.read(views, [{"user_id": u} for u in (1, 2)], now=NOW)
    finally:
        reader.close()
    return {(u, v): (a[v].values or {}).get("score") for u, a in zip((1, 2), answers, strict=True)
            for v in VIEWS}


def test_corrections_win_in_later_runs_a_backfill_and_the_sync(spark: SparkSession, ws: Workspace) -> None:
    arrive(spark, ws, [(1, E1, ago(3), 10.0), (2, E1, ago(3), 20.0), (2, E0, ago(5), 7.0)])
    for view in VIEWS:
        materialize(spark, ws, view)
    # a later incremental run: user 1 corrected downwards; for user 2 a record older than the
    # stored one arrives late
    arrive(spark, ws, [(1, E1, ago(2), 5.0), (2, E1, ago(4), 99.0)])
    for view in VIEWS:
        materialize(spark, ws, view)
    assert offline(spark, ws) == {(1, E1): (5.0, ago(2)), (2, E1): (20.0, ago(3)),
                                  (2, E0): (7.0, ago(5))}
    # a backfill over the same dates: user 2 corrected, user 1's first record re-sent
    arrive(spark, ws, [(2, E1, ago(1), 21.0), (1, E1, ago(3), 10.0)])
    for view in VIEWS:
        backfill(spark, ws, view, (NOW - timedelta(days=2)).date(), (NOW + timedelta(days=1)).date())
    assert offline(spark, ws) == {(1, E1): (5.0, ago(2)), (2, E1): (21.0, ago(1)),
                                  (2, E0): (7.0, ago(5))}
    known = {(1, E1, ago(3), 10.0), (1, E1, ago(2), 5.0), (2, E1, ago(4), 99.0),
             (2, E1, ago(3), 20.0), (2, E1, ago(1), 21.0), (2, E0, ago(5), 7.0)}
    assert records(spark, ws) == known
    corrected = {(1, v): 5.0 for v in VIEWS} | {(2, v): 21.0 for v in VIEWS}
    assert trained(spark, ws, NOW) == corrected
    # knowing time: at T the training set sees what was recorded by T; without it the
    # correction is seen at every T (it replaced the row)
    assert trained(spark, ws, ago(2.5)) == {(1, "user_scores"): 5.0, (1, "user_scores_known"): 10.0,
                                            (2, "user_scores"): 21.0, (2, "user_scores_known"): 20.0}
    assert trained(spark, ws, ago(4)) == {(1, "user_scores"): None, (1, "user_scores_known"): None,
                                          (2, "user_scores"): 7.0, (2, "user_scores_known"): 7.0}
    assert [r.mode for r in sync_online(spark, ws, list(VIEWS))] == ["full", "full"]
    assert online(spark, ws) == corrected
    # one more correction and a re-sent copy of a stored record; an incremental run and sync
    arrive(spark, ws, [(1, E1, ago(0.5), 6.0), (2, E1, ago(3), 20.0)])
    for view in VIEWS:
        materialize(spark, ws, view)
    assert offline(spark, ws)[(2, E1)] == (21.0, ago(1))
    assert records(spark, ws) == known | {(1, E1, ago(0.5), 6.0)}
    assert [r.mode for r in sync_online(spark, ws, list(VIEWS))] == ["incremental", "incremental"]
    latest = {(1, v): 6.0 for v in VIEWS} | {(2, v): 21.0 for v in VIEWS}
    assert online(spark, ws) == latest
    assert trained(spark, ws, NOW) == latest
