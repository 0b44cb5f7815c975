"""The DAGs `sparkfs schedule airflow` writes, parsed by Airflow itself (DagBag, no database) in
a virtualenv of its own (tests/airflow_env.py): no import errors, one DAG per online view,
materialize >> quality_gate >> sync as SparkSubmitOperator tasks running the jobs/ entry points
with what spark-submit.sh adds, daily data intervals, catch-up, one active run."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sparkfs.jars import delta_coordinate
from tests.airflow_env import INSPECT_DAGS, airflow_python
from tests.project import REPO_ROOT, Project, make_project

ONLINE_VIEWS = ("merchant_txn_aggs", "user_profile", "user_txn_aggs")


def _parse_dags(folder: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("PYTHONPATH", None)  # Airflow's own packages only, not sparkfs's environment
    result = subprocess.run([str(airflow_python()), str(INSPECT_DAGS), str(folder)], capture_output=True,
                            text=True, env=env, timeout=300, cwd=home)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAGS-JSON "))
    parsed: dict[str, Any] = json.loads(line.removeprefix("DAGS-JSON "))
    return parsed


@pytest.mark.slow
def test_airflow_parses_one_dag_per_online_view_with_the_expected_tasks(tmp_path: Path) -> None:
    project: Project = make_project(tmp_path / "project")
    dags = tmp_path / "dags"
    result = project.run("schedule", "airflow", "--out", str(dags), "--start-date", "2024-01-01",
                         "--code-zip", str(tmp_path / "code.zip"))
    assert result.returncode == 0, result.stderr
    parsed = _parse_dags(dags, tmp_path)
    assert parsed["import_errors"] == {}
    assert sorted(parsed["dags"]) == [f"sparkfs_{v}" for v in ONLINE_VIEWS]
    config = str(project.config.resolve())
    interval = ["--start", "{{ data_interval_start | ds }}", "--end", "{{ data_interval_end | ds }}"]
    for view in ONLINE_VIEWS:
        dag = parsed["dags"][f"sparkfs_{view}"]
        assert (dag["catchup"], dag["max_active_runs"], dag["cron"]) == (True, 1, "0 0 * * *")
        assert dag["timetable"] == "CronDataIntervalTimetable"
        # the first run covers the first whole UTC day: what --start/--end receive
        assert dag["first_interval"] == ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"]
        tasks = dag["tasks"]
        assert sorted(tasks) == ["materialize", "quality_gate", "sync"]
        assert (tasks["materialize"]["upstream"], tasks["materialize"]["downstream"]) == ([], ["quality_gate"])
        assert (tasks["quality_gate"]["upstream"], tasks["quality_gate"]["downstream"]) == (["materialize"], ["sync"])
        assert (tasks["sync"]["upstream"], tasks["sync"]["downstream"]) == (["quality_gate"], [])
        expected = {"materialize": ("materialize", interval), "quality_gate": ("validate", interval),
                    "sync": ("sync_online", [])}
        for task_id, (job, window) in expected.items():
            task = tasks[task_id]
            assert task["operator"] == "airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator"
            assert task["application"] == str(REPO_ROOT / "jobs" / f"{job}.py")
            assert Path(task["application"]).is_file()
            assert task["application_args"] == ["--config", config, "--view", view, *window]
            assert (task["conn_id"], task["packages"], task["files"]) == ("spark_default", delta_coordinate(), config)
            assert task["py_files"] == str(tmp_path / "code.zip")
            assert task["env_vars"] == {"SPARKFS_SUBMITTED": "1"}
            assert task["conf"]["spark.sql.session.timeZone"] == "UTC"
            assert task["conf"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    with zipfile.ZipFile(tmp_path / "code.zip") as zf:
        names = set(zf.namelist())
    assert {"sparkfs/__init__.py", "jobs/_bootstrap.py", "jobs/validate.py"} <= names


@pytest.mark.slow
def test_a_weekly_schedule_covers_seven_days_and_a_broken_dag_is_reported(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    dags = tmp_path / "dags"
    result = project.run("schedule", "airflow", "user_profile", "--out", str(dags), "--schedule", "@weekly",
                         "--start-date", "2024-01-01", "--code-zip", str(tmp_path / "code.zip"))
    assert result.returncode == 0, result.stderr
    (dags / "broken_dag.py").write_text("from airflow.sdk import DAG\nDAG(dag_id='x', schedule=1/0)\n")
    parsed = _parse_dags(dags, tmp_path)
    assert list(parsed["dags"]) == ["sparkfs_user_profile"]
    assert parsed["dags"]["sparkfs_user_profile"]["first_interval"] == [
        "2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00"]
    assert [Path(p).name for p in parsed["import_errors"]] == ["broken_dag.py"]  # the check can fail
