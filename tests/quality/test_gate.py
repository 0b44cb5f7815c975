"""The gate inside materialize: a failing batch commits nothing, lands in quarantine, and the
hard rules hold on the Delta table even for writers that bypass sparkfs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.errors import QualityGateError
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.quality import quarantine_path
from sparkfs.pipeline.workspace import Workspace
from sparkfs.quality import desired_constraints
from sparkfs.registry import DefinitionStore
from sparkfs.registry.quality_results import QualityStore
from tests.offline.conftest import ts, write_users
from tests.project import Project
from tests.quality.conftest import HARD_RULES

VIEW = "user_profile"
GOOD = [
    (1, ts(1, 9), 30, "US", False),
    (2, ts(2, 10), 40, "XX", None),  # not an allowed country: a warning only
    (3, ts(3, 11), 50, "FR", True),
]
BAD = [
    (4, ts(2, 12), 999, "DE", True),   # age_plausible
    (5, ts(2, 13), 20, "ZZ", False),   # no_zz_country
    (6, ts(2, 14), 998, "ZZ", False),  # both
]


def test_failing_batch_is_quarantined_and_hard_rules_are_delta_constraints(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, GOOD)
    good = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 4))
    assert good.status == "succeeded"
    results = {r["rule"]: r for r in QualityStore(ws.engine).results(good.run_id)}
    assert results["allowed_values(country)"]["passed"] is False and results["allowed_values(country)"]["severity"] == "warn"
    assert results["age_plausible"]["passed"] and results["__batch__"]["observed"]["row_count"] == 3

    # hard rules are Delta CHECK constraints: a direct write that violates one fails
    view = ws.repository.feature_view(VIEW)
    table = offline_table(ws, view)
    constraints = {k: v for k, v in table.properties(spark).items() if k.startswith("delta.constraints.")}
    assert set(constraints) == {f"delta.constraints.{n}" for n in desired_constraints(view)} and len(constraints) == 3
    assert any("`age` >= 0.0" in expr for expr in constraints.values())
    before = table.version(spark)
    rogue = table.read(spark).limit(1).withColumn("age", F.lit(500))
    with pytest.raises(Exception, match=r"(?i)CHECK constraint"):
        rogue.write.format("delta").mode("append").save(table.path)
    assert table.version(spark) == before

    # a failing batch: nothing committed, the batch is quarantined, the report names each rule
    write_users(spark, ws, BAD)
    with pytest.raises(QualityGateError) as caught:
        materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 4))
    report = str(caught.value)
    assert "FAIL [error] age_plausible: 2 offending row(s)" in report
    assert "FAIL [error] no_zz_country: 2 offending row(s)" in report
    assert "WARN [warn] allowed_values(country): 3 offending row(s)" in report
    assert '"age": 999' in report and '"country": "ZZ"' in report
    assert table.version(spark) == before
    assert table.read(spark).count() == 3
    [failed, _] = ws.runs.list(feature_view=VIEW)
    assert failed.status == "failed" and "QualityGateError" in (failed.error or "")
    quarantined = spark.read.format("delta").load(quarantine_path(ws, VIEW))
    assert Path(quarantine_path(ws, VIEW)).is_relative_to(ws.config.offline.root)
    got = {r["user_id"]: sorted(r["_violations"]) for r in quarantined.where(F.col("_run_id") == failed.run_id).collect()}
    assert got == {
        1: [], 2: ["allowed_values(country)"], 3: [], 4: ["age_plausible", "range(age)"],
        5: ["allowed_values(country)", "no_zz_country"],
        6: ["age_plausible", "allowed_values(country)", "no_zz_country", "range(age)"],
    }
    gate_entry = ws.audit.entries(VIEW)[-1]
    assert gate_entry.action == "quality_gate" and gate_entry.outcome == "failed"
    assert gate_entry.details["failed"] == ["age_plausible", "no_zz_country"]


def test_unique_counts_source_duplicates_the_batch_collapsed(spark: SparkSession, project: Project) -> None:
    """A plain view's batch is grouped by keys and event time, so ``unique`` over them counts the
    source rows that collapsed (in the single aggregation); a duplicate blocks the batch."""
    path = project.features / "users.yaml"
    path.write_text(path.read_text().replace(HARD_RULES, HARD_RULES + "      - {type: unique, name: one_row_per_time}\n"))
    ws = Workspace.open(str(project.config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    write_users(spark, ws, GOOD)
    assert materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 4)).status == "succeeded"
    table = offline_table(ws, ws.repository.feature_view(VIEW))
    assert "_source_rows" not in table.read(spark).columns  # batch-only, never stored
    before = table.version(spark)
    write_users(spark, ws, [(1, ts(1, 9), 31, "US", False), (3, ts(3, 11), 50, "FR", True), (3, ts(3, 11), 51, "FR", True)])
    with pytest.raises(QualityGateError, match=r"FAIL \[error\] one_row_per_time: 3 offending row\(s\)"):
        materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 4))
    assert table.version(spark) == before
