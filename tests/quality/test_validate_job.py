"""jobs/validate.py, the quality-gate step of scheduled runs (docs/scheduling.md): the same dry
run as `sparkfs validate`, exit 1 and a one-paragraph error when an expectation fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.pipeline.workspace import Workspace
from tests.offline.conftest import ts, write_users
from tests.project import REPO_ROOT, Project


def _job(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SPARKFS_USER": "tester", "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([sys.executable, str(REPO_ROOT / "jobs" / "validate.py"), "--config", str(project.config),
                           "--view", "user_profile", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_the_validate_job_fails_on_a_bad_interval_and_passes_a_good_one(spark: SparkSession, project: Project,
                                                                        ws: Workspace) -> None:
    write_users(spark, ws, [(1, ts(2, 9), 999, "ZZ", False), (2, ts(3, 9), 40, "DE", True)])
    bad = _job(project, "--start", "2026-01-02", "--end", "2026-01-03")
    assert bad.returncode == 1, bad.stderr[-2000:]
    assert ("validate: QualityGateError: 2 error-severity expectation(s) failed (age_plausible, no_zz_country)"
            in bad.stderr)
    assert "FAIL [error] age_plausible: 1 offending row(s)" in bad.stderr  # the report, before it
    assert "Traceback" not in bad.stderr
    assert json.loads(bad.stdout.splitlines()[-1])["passed"] is False
    good = _job(project, "--start", "2026-01-03", "--end", "2026-01-04")
    assert good.returncode == 0, good.stderr[-2000:]
    result = json.loads(good.stdout.splitlines()[-1])
    assert (result["passed"], result["rows"]) == (True, 1)
    assert [r.status for r in ws.runs.list(job="validate")] == ["succeeded", "failed"]
    assert not Path(ws.config.offline.root).exists()  # a dry run: nothing written
    half = _job(project, "--start", "2026-01-03")
    assert half.returncode == 1 and "validate: ValidationError: give both --start and --end" in half.stderr
