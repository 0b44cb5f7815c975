"""Parse a DAG folder with Airflow's own DagBag and print what it found as one JSON object.

Run by the Airflow virtualenv's python (tests/airflow_env.py), never imported by the suite:
``python inspect_dags.py DAG_FOLDER``. DagBag parses without a metadata database; the Spark
connection comes from ``$AIRFLOW_CONN_SPARK_DEFAULT``.
"""

from __future__ import annotations

import json
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction


def _first_interval(dag: object) -> list[str] | None:
    """The data interval of the DAG's first scheduled run (catch-up from its start date), as
    the scheduler computes it from the DAG's timetable."""
    timetable = coerce_to_core_timetable(dag.timetable)  # type: ignore[attr-defined]
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)  # type: ignore[attr-defined]
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    return None if info is None else [info.data_interval.start.isoformat(), info.data_interval.end.isoformat()]


def main(folder: str) -> None:
    bag = DagBag(dag_folder=folder)  # Airflow 3.3: examples are never loaded from a folder
    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        dags[dag_id] = {
            "fileloc": dag.fileloc,
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "first_interval": _first_interval(dag),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "tags": sorted(dag.tags),
            "tasks": {
                task.task_id: {
                    "operator": f"{type(task).__module__}.{type(task).__name__}",
                    "upstream": sorted(task.upstream_task_ids),
                    "downstream": sorted(task.downstream_task_ids),
                    "application": task.application,
                    "application_args": task.application_args,
                    "conn_id": task._conn_id,
                    "packages": task.packages,
                    "py_files": task.py_files,
                    "files": task.files,
                    "conf": task.conf,
                    "env_vars": task.env_vars,
                    "retries": task.retries,
                    # the spark-submit command line the task's hook runs (the connection from
                    # $AIRFLOW_CONN_SPARK_DEFAULT), templates not rendered
                    "command": task._get_hook()._build_spark_submit_command(task.application),
                }
                for task in dag.tasks
            },
        }
    print("DAGS-JSON " + json.dumps({"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
                      "dags": dags}, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
