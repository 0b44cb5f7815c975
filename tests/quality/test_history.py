"""max_change compares with the last *succeeded materialization* run; freshness with now."""

from __future__ import annotations

from datetime import timedelta

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from sparkfs.definitions import FeatureView
from sparkfs.pipeline.quality import check_batch
from sparkfs.pipeline.workspace import Workspace
from sparkfs.quality import QualityReport
from sparkfs.registry.quality_results import QualityStore
from tests.offline.conftest import ts

SCHEMA = T.StructType([
    T.StructField("user_id", T.LongType()), T.StructField("event_timestamp", T.TimestampType()),
    T.StructField("age", T.IntegerType()),
])
VIEW = FeatureView.model_validate({
    "name": "hist", "entities": ["user"], "source": {"type": "delta", "path": "x"}, "timestamp_column": "ts",
    "owner": "t", "features": [{"name": "age", "type": "int32"}],
    "expectations": [
        {"type": "max_change", "metric": "row_count", "max_fraction": 0.5, "name": "volume"},
        {"type": "max_change", "metric": "mean", "column": "age", "max_fraction": 0.2, "name": "mean_age"},
        {"type": "freshness", "max_age": "1d", "name": "fresh"},
    ],
})
NEWEST = ts(5, 12)


def check(spark: SparkSession, ws: Workspace, ages: list[int], *, job: str = "materialize",
          status: str = "succeeded", age_of_newest: timedelta = timedelta(hours=2)) -> QualityReport:
    batch = spark.createDataFrame([(i, NEWEST - timedelta(hours=i), a) for i, a in enumerate(ages)], SCHEMA)
    run_id = ws.runs.start(job, user="t", feature_view=VIEW.name, version="v1", namespace=ws.namespace)
    report = check_batch(ws, VIEW, "v1", batch, run_id, now=NEWEST + age_of_newest)
    ws.runs.finish(run_id, status=status)
    return report


def outcome(report: QualityReport) -> dict[str, bool]:
    return {r.label: r.passed for r in report.results}


def test_max_change_and_freshness(spark: SparkSession, ws: Workspace) -> None:
    first = check(spark, ws, [30, 30, 30, 30])
    assert outcome(first) == {"volume": True, "mean_age": True, "fresh": True}
    assert first.results[0].observed["note"].startswith("no previous")
    dry = check(spark, ws, [30] * 10, job="validate")  # compared with the first run, never compared against
    assert outcome(dry)["volume"] is False and dry.results[0].observed["change"] == 1.5
    failed_write = check(spark, ws, [33] * 5, status="failed")
    assert outcome(failed_write) == {"volume": True, "mean_age": True, "fresh": True}
    latest = check(spark, ws, [40] * 8, age_of_newest=timedelta(days=2))
    assert latest.results[0].observed["previous"] == 4  # the failed run and the dry run are skipped
    assert outcome(latest) == {"volume": False, "mean_age": False, "fresh": False}
    assert latest.results[1].observed["change"] == (40 - 30) / 30
    assert latest.metrics == {"row_count": 8, "mean:age": 40.0, "max_event_time": NEWEST.isoformat()}
    sandbox = check(spark, ws.in_namespace("sandbox"), [1] * 100)  # namespaces do not share history
    assert outcome(sandbox)["volume"] is True
    assert QualityStore(ws.engine).previous_metrics(VIEW.name, "production", "none") == latest.metrics
