"""The DAGs `sparkfs schedule airflow` writes, parsed by Airflow itself (DagBag, no database) in
a virtualenv of its own (tests/airflow_env.py): no import errors, one DAG per online view,
materialize >> quality_gate >> sync as SparkSubmitOperator tasks running the jobs/ entry points
with what spark-submit.sh adds, daily data intervals, catch-up, one active run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sparkfs.jars import delta_coordinate
from tests.airflow_env import INSPECT_DAGS, airflow_python
from tests.project import REPO_ROOT, Project, make_project

ONLINE_VIEWS = ("merchant_txn_aggs", "user_profile", "user_txn_aggs")
MASTER = "local[2]"
#: Conf the DAG sets for every cluster manager, where spark-submit.sh picks the master's own.
OTHER_MASTERS_CONF = {"spark.yarn.appMasterEnv.SPARKFS_SUBMITTED=1", "spark.kubernetes.driverEnv.SPARKFS_SUBMITTED=1"}


def _submit_parts(command: list[str]) -> tuple[dict[str, str], set[str], list[str]]:
    """(spark-submit options, --conf values, application and its arguments) of a command."""
    options, conf, i = {}, set(), 1
    while command[i].startswith("--"):
        if command[i] == "--conf":
            conf.add(command[i + 1])
        else:
            options[command[i]] = command[i + 1]
        i += 2
    return options, conf, command[i:]


def _script_command(project: Project, job: str, *args: str) -> list[str]:
    """What `./spark-submit.sh JOB ...` runs (its --dry-run)."""
    result = subprocess.run(["bash", str(REPO_ROOT / "spark-submit.sh"), "--dry-run", "--master", MASTER,
                             "--config", str(project.config), job, *args],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout)


def _parse_dags(folder: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": MASTER})}
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
    # each task submits what spark-submit.sh submits for the same job and arguments
    for task_id, job in (("materialize", "materialize"), ("quality_gate", "validate"), ("sync", "sync_online")):
        task = parsed["dags"]["sparkfs_user_profile"]["tasks"][task_id]
        dag_options, dag_conf, dag_app = _submit_parts(task["command"])
        script = _script_command(project, job, *task["application_args"][2:])  # it adds --config itself
        script_options, script_conf, script_app = _submit_parts(script)
        assert dag_app == script_app, task_id
        for option in ("--master", "--packages", "--files"):
            assert dag_options[option] == script_options[option], (task_id, option)
        assert dag_options["--py-files"] == str(tmp_path / "code.zip")  # the script zips a fresh copy per run
        assert dag_conf - script_conf == OTHER_MASTERS_CONF and script_conf <= dag_conf, task_id
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
