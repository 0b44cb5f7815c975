"""Apache Airflow 3 with its Spark provider in a virtualenv of its own, for the DAG tests.

Airflow's pins (SQLAlchemy, FastAPI, pydantic, a pyspark client ...) clash with sparkfs's, so it
never enters the test environment. It lives under
``~/.cache/sparkfs/airflow-venv/<version>-<hash of the requirements>`` (tests/pinned_venv.py:
built once from PyPI with the pins of ``scheduling/airflow_dags/requirements.txt``, then
reused).

``python -m tests.airflow_env`` builds it ahead of time and prints its python.
"""

from __future__ import annotations

from pathlib import Path

from tests.pinned_venv import PinnedVenv

__all__ = ["AIRFLOW_VERSION", "INSPECT_DAGS", "airflow_python"]

AIRFLOW_VERSION = "3.3.2"
HERE = Path(__file__).resolve().parent / "scheduling" / "airflow_dags"
INSPECT_DAGS = HERE / "inspect_dags.py"

AIRFLOW_VENV = PinnedVenv(
    name="airflow-venv", version=AIRFLOW_VERSION, requirements=HERE / "requirements.txt",
    probe=("import airflow, airflow.providers.apache.spark.operators.spark_submit; "
           f"assert airflow.__version__ == {AIRFLOW_VERSION!r}"),
    install_timeout_s=300,
)


def airflow_python() -> Path:
    """The python of a virtualenv holding exactly the pinned Airflow; built if missing."""
    return AIRFLOW_VENV.python()


if __name__ == "__main__":
    print(airflow_python())
