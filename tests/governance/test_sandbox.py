"""Enforcement in materialize, and sandbox isolation, at the library level (real Spark + Delta)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.errors import GovernanceError
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.workspace import Workspace
from tests.governance.conftest import board
from tests.offline.conftest import ts, write_users

VIEW = "user_profile"
ROWS = [(1, ts(1, 9), 30, "US", False), (2, ts(2, 10), 40, "DE", True)]


@pytest.mark.slow
def test_sandbox_runs_unapproved_versions_without_touching_production(spark: SparkSession, ws: Workspace) -> None:
    write_users(spark, ws, ROWS)
    view = ws.repository.feature_view(VIEW)
    production = offline_table(ws, view)
    with pytest.raises(GovernanceError, match=r"is draft: not approved.*carol"):
        materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert not Path(ws.config.offline.root).exists() or not any(Path(ws.config.offline.root).iterdir())
    assert ws.runs.list(feature_view=VIEW) == []  # refused before any run started
    assert ws.audit.entries(VIEW)[-1].outcome == "refused"

    sandbox = ws.in_namespace("sandbox")
    run = materialize(spark, sandbox, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 3))
    sandboxed = offline_table(sandbox, view)
    assert run.status == "succeeded" and run.namespace == "sandbox" and run.rows_out == 2
    assert Path(sandboxed.path).is_relative_to(ws.config.offline.sandbox_root)
    assert not production.exists(spark)
    sandbox_version = sandboxed.version(spark)

    b = board(ws)
    b.request("author", VIEW)
    b.approve("carol", VIEW)  # the PII approver
    done = materialize(spark, ws, VIEW, start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert done.namespace == "production" and production.exists(spark) and production.read(spark).count() == 2
    assert Path(production.path).is_relative_to(ws.config.offline.root)
    assert sandboxed.version(spark) == sandbox_version
