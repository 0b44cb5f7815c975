"""`sparkfs validate` through the real CLI: a dry run that never writes the feature table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.pipeline.workspace import Workspace
from tests.offline.conftest import ts, write_users
from tests.project import Project


@pytest.mark.slow
def test_validate_reports_and_exits_nonzero_without_writing(spark: SparkSession, project: Project, ws: Workspace) -> None:
    write_users(spark, ws, [(1, ts(2, 9), 999, "ZZ", False), (2, ts(3, 9), 40, "DE", True)])
    bad = project.run("validate", "user_profile")
    assert bad.returncode == 1, (bad.returncode, bad.stdout[-2000:], bad.stderr[-2000:])
    assert "quality gate FAILED" in bad.stdout and "FAIL [error] age_plausible: 1 offending row(s)" in bad.stdout
    assert '"age": 999' in bad.stdout
    good = project.run("validate", "user_profile", "--start", "2026-01-03", "--end", "2026-01-04")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "quality gate passed" in good.stdout and "1 row(s) checked" in good.stdout
    assert not Path(ws.config.offline.root).exists()  # neither the table nor a quarantine was written
    runs = ws.runs.list(job="validate")
    assert [r.status for r in runs] == ["succeeded", "failed"]
    usage = project.run("validate", "user_profile", "--start", "2026-01-03")
    assert usage.returncode == 1 and "give both --start and --end" in usage.stderr
