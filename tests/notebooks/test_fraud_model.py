"""notebooks/fraud_model.ipynb, executed by a real Jupyter kernel against the demo: it trains a
model that beats a constant baseline on a time-based split, records the training set it used,
and scores online entities through the same columns; a lookup at t and a point-in-time join at
t give the model the same input matrix."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from pandas.testing import assert_frame_equal
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.definitions import definition_version
from sparkfs.demo.pipeline import run_demo_pipeline
from sparkfs.model_inputs import column_of, model_matrix, online_frame
from sparkfs.pipeline.training_sets import rebuild
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.training_sets import TrainingSetStore
from sparkfs.store import FeatureStore
from tests.project import REPO_ROOT, Project, make_project
from tests.redis_server import RedisServer

NOTEBOOK = REPO_ROOT / "notebooks" / "fraud_model.ipynb"
ROWS = 10_000
SERVICE = "fraud_model"


@dataclass
class Executed:
    project: Project
    workspace: Workspace
    notebook: Any
    seconds: float


@pytest.fixture(scope="module")
def executed(spark: SparkSession, redis_server: RedisServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executed]:
    redis_server.client().flushall()
    project = make_project(tmp_path_factory.mktemp("notebook"), redis_url=redis_server.url)
    workspace = Workspace.open(str(project.config), user="tester")
    run_demo_pipeline(spark, workspace, rows=ROWS, say=lambda _: None)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "SPARKFS_CONFIG": str(project.config), "SPARKFS_USER": "tester",
           "PYTHONPATH": str(REPO_ROOT), "SPARK_LOCAL_IP": "127.0.0.1"}
    started = time.monotonic()
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env=env)  # the kernel's environment: the project's config
    yield Executed(project, workspace, notebook, time.monotonic() - started)


def _metadata(run: Executed) -> dict[str, Any]:
    path = Path(run.workspace.config.data_dir) / "models" / SERVICE / "model.json"
    return json.loads(path.read_text())


@pytest.mark.slow
def test_the_model_beats_a_constant_baseline_on_the_later_transactions(executed: Executed) -> None:
    metrics = _metadata(executed)["metrics"]
    print(f"notebook ran in {executed.seconds:.0f} s; metrics {metrics}")
    assert metrics["test_positives"] >= 30
    assert metrics["baseline_auc"] == 0.5
    assert metrics["auc"] > 0.6, metrics
    assert metrics["log_loss"] < metrics["baseline_log_loss"], metrics


@pytest.mark.slow
def test_the_model_records_a_reproducible_training_set_and_the_service_version(
        spark: SparkSession, executed: Executed) -> None:
    meta = _metadata(executed)
    ws = executed.workspace
    service = ws.repository.feature_services[SERVICE]
    assert meta["feature_service"] == SERVICE
    assert meta["feature_service_version"] == definition_version(service)
    assert meta["features"] == [column_of(r.qualified) for r in ws.repository.service_features(SERVICE)]
    assert (Path(ws.config.data_dir) / "models" / SERVICE / "model.pkl").stat().st_size > 0
    record = TrainingSetStore(ws.engine).get(meta["training_set_id"])
    assert record.feature_service == SERVICE and record.table_versions == meta["table_versions"]
    written = spark.read.parquet(record.out)
    again = rebuild(spark, ws, record)
    assert written.exceptAll(again).count() == 0 and again.exceptAll(written).count() == 0


@pytest.mark.slow
def test_the_notebook_scores_online_entities(executed: Executed) -> None:
    outputs = [o for cell in executed.notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    last_table = executed.notebook.cells[-2].outputs[0]["data"]["text/plain"]
    assert "fraud_score" in last_table


@pytest.mark.slow
def test_the_online_input_matrix_equals_the_offline_one_at_the_same_time(
        spark: SparkSession, executed: Executed) -> None:
    fs = FeatureStore(spark, executed.workspace)
    labels = spark.read.format("delta").load(str(Path(executed.workspace.config.data_dir) / "demo" / "fraud_labels"))
    pairs = [(r.user_id, r.merchant_id) for r in labels.where(F.col("merchant_id").isNotNull())
             .select("user_id", "merchant_id").distinct().orderBy("user_id", "merchant_id").limit(40).collect()]
    entities = {"user_id": [u for u, _ in pairs], "merchant_id": [m for _, m in pairs]}
    for _ in range(3):  # aggregation windows move on each hour: lookup and join within one hour
        now = datetime.now(UTC)
        response = fs.get_online_features(entities, feature_service=SERVICE)
        if datetime.now(UTC).replace(minute=0, second=0, microsecond=0) == now.replace(minute=0, second=0, microsecond=0):
            break
    spine = spark.createDataFrame([(u, m, now) for u, m in pairs],
                                  "user_id long, merchant_id long, event_timestamp timestamp")
    offline = fs.get_training_set(spine, feature_service=SERVICE).toPandas()
    columns = _metadata(executed)["features"]
    online = online_frame(response)
    keys = ["user_id", "merchant_id"]
    offline = offline.sort_values(keys).reset_index(drop=True)
    online = online.sort_values(keys).reset_index(drop=True)
    assert online[keys].astype("int64").equals(offline[keys].astype("int64"))
    assert_frame_equal(model_matrix(online, columns), model_matrix(offline, columns))
    assert model_matrix(online, columns).notna().to_numpy().sum() > len(pairs)  # values, not all nulls


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def _readme_notebook_example() -> str:
    """The python block of the README's "From a notebook" section, verbatim."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## From a notebook"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("\n```\n", start)]


@pytest.mark.slow
def test_the_readme_notebook_example_runs_as_written(
        spark: SparkSession, executed: Executed, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _readme_notebook_example()
    assert "FeatureStore.open(spark, config)" in code and "with_versions=True" in code
    monkeypatch.chdir(executed.project.root)  # its config path is the project's conf/sparkfs.yaml
    monkeypatch.setenv("SPARKFS_USER", "tester")
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    service = executed.workspace.repository.feature_services[SERVICE]
    assert set(scope["train"].table_versions) == {ref.split(":")[0] for ref in service.features}
    assert scope["X"].shape == (1, len(scope["columns"])) and len(scope["columns"]) > 3
    assert scope["X"].notna().to_numpy().sum() > 0  # user 1 has values online
    assert scope["spark"] is spark  # the example's build_session found the running session
