"""Several feature views materialized concurrently in one session (``materialize --all``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.demo.generate import generate_demo_data
from sparkfs.errors import QualityGateError
from sparkfs.pipeline.concurrency import POOL_PROPERTY, run_concurrently
from sparkfs.pipeline.materialize import (
    materialize,
    materialize_all,
    offline_table,
    plan_materialize,
)
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore

VIEWS = ["merchant_txn_aggs", "user_profile", "user_txn_aggs"]


def test_jobs_overlap_each_in_its_own_session_and_pool(spark: SparkSession) -> None:
    barrier = threading.Barrier(2, timeout=60)  # each job waits for the other: only concurrent jobs pass
    spark.conf.set("spark.sql.shuffle.partitions", "3")

    def job(name: str):
        def run(session: SparkSession) -> tuple[str | None, str, bool]:
            barrier.wait()
            session.conf.set("spark.sql.session.localRelationCacheThreshold", name)  # stays in this session
            session.range(10).count()
            return (session.sparkContext.getLocalProperty(POOL_PROPERTY),
                    session.conf.get("spark.sql.shuffle.partitions"), session is spark)
        return run

    out = run_concurrently(spark, {"a": job("1"), "b": job("2")}, concurrency=2)
    assert out == {"a": ("sparkfs-a", "3", False), "b": ("sparkfs-b", "3", False)}
    assert spark.conf.get("spark.sql.session.localRelationCacheThreshold") not in ("1", "2")
    assert spark.sparkContext.getConf().get("spark.scheduler.mode") == "FAIR"


def test_a_failing_job_does_not_stop_the_others(spark: SparkSession) -> None:
    def fail(session: SparkSession) -> int:
        raise QualityGateError("blocked")

    out = run_concurrently(spark, {"bad": fail, "good": lambda s: s.range(5).count()}, concurrency=1)
    assert isinstance(out["bad"], QualityGateError) and out["good"] == 5


def _tables(spark: SparkSession, ws: Workspace) -> dict[str, list[tuple]]:
    out = {}
    for name in VIEWS:
        df = offline_table(ws, ws.repository.feature_view(name)).read(spark).drop("_ingested_at")
        out[name] = sorted(map(tuple, df.collect()), key=repr)
    return out


@pytest.mark.slow
def test_all_views_together_write_what_one_at_a_time_writes(spark: SparkSession, ws: Workspace, tmp_path: Path) -> None:
    generate_demo_data(spark, str(Path(ws.config.data_dir) / "demo"), rows=10_000, seed=7, partitions=2)
    together = materialize_all(spark, ws, [plan_materialize(ws, name) for name in VIEWS], concurrency=3)
    assert all(not isinstance(r, Exception) and r.status == "succeeded" for r in together.values()), together
    # the same runs one at a time, with a registry and offline root of their own
    config = ws.config.model_copy(update={
        "registry": ws.config.registry.model_copy(update={"url": f"sqlite:///{tmp_path / 'seq.db'}"}),
        "offline": ws.config.offline.model_copy(update={"root": str(tmp_path / "seq")})})
    seq = Workspace.open(config, user="tester")
    DefinitionStore(seq.engine).apply(seq.repository, user="tester")
    one_at_a_time = {name: materialize(spark, seq, name) for name in VIEWS}
    assert _tables(spark, ws) == _tables(spark, seq)
    for name, run in together.items():
        assert not isinstance(run, Exception)
        assert (run.rows_in, run.rows_out) == (one_at_a_time[name].rows_in, one_at_a_time[name].rows_out)
        assert run.rows_out == offline_table(ws, ws.repository.feature_view(name)).read(spark).count()
    # incremental reruns, concurrently: the plain view MERGEs while the others replace a range
    # (an aggregation view's replaced range starts with a row even where nothing changed)
    rerun = materialize_all(spark, ws, [plan_materialize(ws, name) for name in VIEWS], concurrency=3)
    assert all(not isinstance(r, Exception) and r.status == "succeeded" for r in rerun.values()), rerun
    for name in VIEWS:
        materialize(spark, seq, name)
    assert _tables(spark, ws) == _tables(spark, seq)
    for name in VIEWS:  # each commit carries its own run's metadata, never another view's
        path = offline_table(ws, ws.repository.feature_view(name)).path
        history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where(F.col("userMetadata").isNotNull())
        views = {json.loads(r["userMetadata"])["feature_view"] for r in history.select("userMetadata").collect()}
        assert views == {name}
        run = rerun[name]
        assert not isinstance(run, Exception)
        assert run.output_version == history.agg(F.max("version")).first()[0]  # type: ignore[index]
