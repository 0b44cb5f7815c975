"""Enforcement end to end in the online sync and in training sets (real Spark, Delta, Redis):
production refuses unapproved versions before anything is read or written; the sandbox works."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from pyspark.sql import SparkSession

from sparkfs.errors import GovernanceError
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.sync import sync_online
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from sparkfs.store import FeatureStore
from tests.governance.conftest import GOVERNANCE, board
from tests.offline.conftest import write_users
from tests.project import make_project

VIEW = "user_profile"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture()
def gov_ws(tmp_path: Path, redis_url: str) -> Workspace:
    project = make_project(tmp_path, redis_url=redis_url, extra=GOVERNANCE)
    ws = Workspace.open(str(project.config), user="author")
    DefinitionStore(ws.engine).apply(ws.repository, user="author")
    return ws


@pytest.mark.slow
def test_sync_and_training_sets_use_approved_versions_only(spark: SparkSession, gov_ws: Workspace,
                                                            redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    write_users(spark, gov_ws, [(1, NOW - timedelta(days=1), 30, "US", False)])
    sandbox = gov_ws.in_namespace("sandbox")
    materialize(spark, sandbox, VIEW)

    # the online sync: production refuses before touching Redis, naming who can approve
    with pytest.raises(GovernanceError, match=r"user_profile.*not approved.*carol"):
        sync_online(spark, gov_ws, [VIEW])
    assert client.dbsize() == 0
    assert gov_ws.audit.entries(VIEW)[-1].outcome == "refused"
    # the sandbox syncs its own keys
    [result] = sync_online(spark, sandbox, [VIEW])
    assert result.entities_written == 1
    assert client.dbsize() > 0 and all(b"sandbox" in k for k in client.scan_iter())

    # a training set from a feature service needs the service approved (and its views)
    spine = spark.createDataFrame([(1, NOW)], "user_id long, event_timestamp timestamp")
    store = FeatureStore(spark, gov_ws)
    with pytest.raises(GovernanceError, match=r"fraud_model.*not approved"):
        store.get_training_set(spine, feature_service="fraud_model")
    # the sandbox builds it from the unapproved version it materialized
    rows = FeatureStore(spark, sandbox).get_training_set(spine, features=[f"{VIEW}:age"]).collect()
    assert [r[f"{VIEW}__age"] for r in rows] == [30]

    # once approved, production materializes and syncs
    b = board(gov_ws)
    b.request("author", VIEW)
    b.approve("carol", VIEW)
    materialize(spark, gov_ws, VIEW, start=date.today() - timedelta(days=3), end=date.today() + timedelta(days=1))
    [synced] = sync_online(spark, gov_ws, [VIEW])
    assert synced.entities_written == 1
