"""OpenLineage export: events parsed back with the client's own classes; FAIL; dead endpoints."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    datasource_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    ownership_dataset,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
    tags_run,
)
from openlineage.client.facet_v2 import dataset_version_dataset as version_dataset
from openlineage.client.serde import Serde
from pyspark.sql import SparkSession

from sparkfs.definitions import definition_version
from sparkfs.demo.generate import generate_demo_data
from sparkfs.errors import NotFoundError
from sparkfs.lineage.openlineage import EMIT_FAILURES, SparkfsRunFacet, parent_facet
from sparkfs.lineage.store import LineageStore
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.quality_results import QualityStore
from tests.lineage.conftest import Demo, openlineage_file
from tests.project import make_project

# ----------------------------------------------------------------------------- parsing back


def _facet(cls: Any, data: dict[str, Any], **fields: Any) -> Any:
    return cls(**fields, producer=data["_producer"])


def _fields(items: list[dict[str, Any]]) -> list[schema_dataset.SchemaDatasetFacetFields]:
    return [schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f.get("type")) for f in items]


def _dataset_facets(facets: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data in facets.items():
        if name == "schema":
            out[name] = _facet(schema_dataset.SchemaDatasetFacet, data, fields=_fields(data["fields"]))
        elif name == "dataSource":
            out[name] = _facet(datasource_dataset.DatasourceDatasetFacet, data, name=data["name"], uri=data["uri"])
        elif name == "version":
            out[name] = _facet(version_dataset.DatasetVersionDatasetFacet, data, datasetVersion=data["datasetVersion"])
        elif name == "ownership":
            out[name] = _facet(ownership_dataset.OwnershipDatasetFacet, data, owners=[
                ownership_dataset.Owner(name=o["name"], type=o.get("type")) for o in data["owners"]])
        elif name == "documentation":
            out[name] = _facet(documentation_dataset.DocumentationDatasetFacet, data, description=data["description"])
        elif name == "columnLineage":
            out[name] = _facet(column_lineage_dataset.ColumnLineageDatasetFacet, data, fields={
                column: column_lineage_dataset.Fields(inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=i["namespace"], name=i["name"], field=i["field"], transformations=[
                            column_lineage_dataset.Transformation(**t) for t in i.get("transformations", [])])
                    for i in spec["inputFields"]])
                for column, spec in data["fields"].items()})
        else:
            raise AssertionError(f"a dataset facet sparkfs does not document: {name}")
    return out


def _run_facets(facets: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data in facets.items():
        if name == "sparkfs":
            fields = {k: v for k, v in data.items() if not k.startswith("_")}
            out[name] = SparkfsRunFacet(**fields, producer=data["_producer"])
        elif name == "processing_engine":
            out[name] = _facet(processing_engine_run.ProcessingEngineRunFacet, data, version=data["version"],
                               name=data["name"], openlineageAdapterVersion=data["openlineageAdapterVersion"])
        elif name == "errorMessage":
            out[name] = _facet(error_message_run.ErrorMessageRunFacet, data, message=data["message"],
                               programmingLanguage=data["programmingLanguage"])
        elif name == "parent":
            out[name] = _facet(parent_run.ParentRunFacet, data, run=parent_run.Run(runId=data["run"]["runId"]),
                               job=parent_run.Job(namespace=data["job"]["namespace"], name=data["job"]["name"]))
        elif name == "tags":  # the client adds its version
            out[name] = _facet(tags_run.TagsRunFacet, data, tags=[tags_run.TagsRunFacetFields(**t) for t in data["tags"]])
        else:
            raise AssertionError(f"a run facet sparkfs does not document: {name}")
    return out


def _job_facets(facets: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data in facets.items():
        if name == "jobType":
            out[name] = _facet(job_type_job.JobTypeJobFacet, data, processingType=data["processingType"],
                               integration=data["integration"], jobType=data["jobType"])
        elif name == "documentation":
            out[name] = _facet(documentation_job.DocumentationJobFacet, data, description=data["description"])
        elif name == "ownership":
            out[name] = _facet(ownership_job.OwnershipJobFacet, data, owners=[
                ownership_job.Owner(name=o["name"], type=o.get("type")) for o in data["owners"]])
        elif name == "sql":
            out[name] = _facet(sql_job.SQLJobFacet, data, query=data["query"])
        else:
            raise AssertionError(f"a job facet sparkfs does not document: {name}")
    return out


def parse_event(data: dict[str, Any]) -> RunEvent:
    """The event rebuilt from the client's classes (their validators run: run ids are UUIDs,
    event times ISO 8601); serialising it again must give the very same JSON."""
    event = RunEvent(
        eventType=RunState(data["eventType"]), eventTime=data["eventTime"], producer=data["producer"],
        run=Run(runId=data["run"]["runId"], facets=_run_facets(data["run"].get("facets", {}))),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"],
                facets=_job_facets(data["job"].get("facets", {}))),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d.get("facets", {})))
                for d in data.get("inputs", [])],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d.get("facets", {})))
                 for d in data.get("outputs", [])],
    )
    assert Serde.to_dict(event) == data
    return event


def _events(path: Path) -> list[RunEvent]:
    return [parse_event(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the demo's events


def test_every_run_emits_start_then_its_end_as_one_job_per_view(demo: Demo) -> None:
    events = _events(demo.events)
    runs = LineageStore(demo.workspace.engine).runs()
    by_run: dict[str, list[RunEvent]] = {}
    for event in events:
        by_run.setdefault(event.run.runId, []).append(event)
    assert len(by_run) == len(runs) == 7  # 3 materializations, 1 training set, 3 syncs
    names = set()
    for run in runs:
        mine = by_run[str(uuid.UUID(run.run_id))]
        assert [e.eventType for e in mine] == [RunState.START, RunState.COMPLETE]
        assert len({e.job.name for e in mine}) == 1
        names.add(mine[0].job.name)
        assert mine[0].job.namespace == "sparkfs-test"
    assert names == {f"test.{v}.{job}" for v in ("user_profile", "user_txn_aggs", "merchant_txn_aggs")
                     for job in ("materialize", "sync")} | {"test.training_set.fraud_model"}


def _complete(demo: Demo, job: str) -> RunEvent:
    (event,) = [e for e in _events(demo.events) if e.job.name == job and e.eventType == RunState.COMPLETE]
    return event


def test_a_materialization_event_has_inputs_outputs_and_facets(demo: Demo) -> None:
    event = _complete(demo, "test.user_txn_aggs.materialize")
    ws = demo.workspace
    view = ws.repository.feature_view("user_txn_aggs")
    (source,) = event.inputs or []
    assert (source.namespace, source.name) == ("file", str(Path(ws.config.data_dir) / "demo" / "transactions"))
    assert source.facets is not None
    assert source.facets["version"].datasetVersion == "0"
    assert "amount" in {f.name for f in source.facets["schema"].fields or []}
    assert source.facets["dataSource"].name == "file"
    (table,) = event.outputs or []
    assert table.name == offline_table(ws, view).path
    assert table.facets is not None
    (run,) = [r for r in LineageStore(ws.engine).runs() if r.job == "materialize" and r.feature_view == view.name]
    assert table.facets["version"].datasetVersion == run.outputs[-1].version
    assert table.facets["ownership"].owners[0].name == "risk-team@example.com"
    assert table.facets["documentation"].description == view.description
    assert {f.name for f in table.facets["schema"].fields or []} >= set(view.feature_names())
    lineage = table.facets["columnLineage"].fields
    assert set(lineage) == set(view.feature_names())
    field = lineage["txn_amount_avg_7d"].inputFields[0]
    assert (field.namespace, field.name, field.field) == (source.namespace, source.name, "amount")
    assert field.transformations and field.transformations[0].subtype == "AGGREGATION"
    assert field.transformations[0].description == "avg(amount) over a sliding 7d window at hour grain"
    facet = event.run.facets["sparkfs"]  # type: ignore[index]
    assert facet.definitionVersion == definition_version(view) and facet.featureView == view.name
    assert facet.approvalState == "draft (governance disabled)"
    assert facet.window == {"mode": "full"}  # no range: the whole source (nulls are not serialised)
    assert facet.rowsOut == run.details["rows_out"] and facet.rowsOut > 0
    assert facet.code["sparkfs_version"] and facet.sparkAppId
    assert event.job.facets["jobType"].jobType == "MATERIALIZE"  # type: ignore[index]


def test_quality_gate_sql_and_online_facets(demo: Demo) -> None:
    profile = _complete(demo, "test.user_profile.materialize")
    facet = profile.run.facets["sparkfs"]  # type: ignore[index]
    rules = QualityStore(demo.workspace.engine).results(facet.runId)
    assert len(rules) >= 3, "the view's three expectations at least"
    assert facet.qualityGate["passed"] is True and facet.qualityGate["rules"] == len(rules)
    assert facet.qualityGate["failed"] == [{"rule": r["rule"], "severity": r["severity"], "failed_count": r["failed_count"]}
                                           for r in rules if not r["passed"]]
    assert "CAST(age AS INT)" in profile.job.facets["sql"].query  # type: ignore[index]
    age = profile.outputs[0].facets["columnLineage"].fields["age"].inputFields[0]  # type: ignore[index]
    assert (age.field, age.transformations[0].subtype) == ("age", "TRANSFORMATION")  # type: ignore[index]
    sync = _complete(demo, "test.user_profile.sync")
    (generation,) = sync.outputs or []
    assert generation.namespace.startswith("redis://127.0.0.1:") and generation.name == "sfs/user_profile"
    assert generation.facets is not None and generation.facets["version"].datasetVersion == "1"
    training = _complete(demo, "test.training_set.fraud_model")
    assert {d.name.rsplit("/", 2)[-2] for d in training.inputs or [] if "offline" in d.name} == \
        {"user_profile", "user_txn_aggs", "merchant_txn_aggs"}
    assert (training.outputs or [])[0].name == demo.summary["training_set"]["out"]


# ----------------------------------------------------------------------------- failures


def test_a_failing_run_emits_fail_with_the_error(spark: SparkSession, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    parent = str(uuid.uuid4())
    monkeypatch.setenv("OPENLINEAGE_PARENT_ID", f"airflow/sparkfs_user_profile.materialize/{parent}")
    project = make_project(tmp_path, extra=openlineage_file("../events.jsonl"))
    workspace = Workspace.open(str(project.config), user="tester")
    workspace.definitions.apply(workspace.repository, user="tester")
    with pytest.raises(NotFoundError):
        materialize(spark, workspace, "user_profile")  # no demo data: the source does not exist
    events = _events(tmp_path / "events.jsonl")
    assert [e.eventType for e in events] == [RunState.START, RunState.FAIL]
    for event in events:
        facet = event.run.facets["parent"]  # type: ignore[index]
        assert (facet.run.runId, facet.job.name) == (parent, "sparkfs_user_profile.materialize")
    error = events[1].run.facets["errorMessage"]  # type: ignore[index]
    assert error.message.startswith("NotFoundError: feature view 'user_profile': source")
    assert "does not exist" in error.message
    (run,) = LineageStore(workspace.engine).runs()
    assert run.status == "failed" and "does not exist" in run.details["error"]


def test_an_unreachable_endpoint_leaves_the_run_succeeding(spark: SparkSession, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLINEAGE_PARENT_ID", f"airflow/sparkfs_user_profile.materialize/{uuid.uuid4()}")
    extra = ("lineage:\n  openlineage:\n    transport: {type: http, url: 'http://127.0.0.1:1', "
             "timeout_s: 0.5, retries: 0}\n")
    project = make_project(tmp_path, extra=extra)
    workspace = Workspace.open(str(project.config), user="tester")
    generate_demo_data(spark, str(Path(workspace.config.data_dir) / "demo"), rows=500, seed=1)
    workspace.definitions.apply(workspace.repository, user="tester")
    before = EMIT_FAILURES.labels(event="START")._value.get() + EMIT_FAILURES.labels(event="COMPLETE")._value.get()
    record = materialize(spark, workspace, "user_profile")
    assert record.status == "succeeded" and (record.rows_out or 0) > 0
    after = EMIT_FAILURES.labels(event="START")._value.get() + EMIT_FAILURES.labels(event="COMPLETE")._value.get()
    assert after - before == 2
    (run,) = LineageStore(workspace.engine).runs()
    assert run.status == "succeeded"
    assert run.details["openlineage"]["emitted"] == 0 and run.details["openlineage"]["failed"] == 2
    assert "Connection" in run.details["openlineage"]["last_error"]
    assert run.outputs, "the lineage itself is recorded in the registry all the same"


def test_parent_run_from_the_environment() -> None:
    parent = str(uuid.uuid4())
    facet = parent_facet({"OPENLINEAGE_PARENT_ID": f"airflow/dag.task/{parent}"})
    assert facet is not None and (facet.job.namespace, facet.job.name, facet.run.runId) == ("airflow", "dag.task", parent)
    airflow = parent_facet({"AIRFLOW_CTX_DAG_ID": "sparkfs_user_profile", "AIRFLOW_CTX_TASK_ID": "materialize",
                            "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2024-01-01", "AIRFLOW_CTX_TRY_NUMBER": "1"})
    assert airflow is not None and airflow.job.name == "sparkfs_user_profile.materialize"
    again = parent_facet({"AIRFLOW_CTX_DAG_ID": "sparkfs_user_profile", "AIRFLOW_CTX_TASK_ID": "materialize",
                          "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2024-01-01", "AIRFLOW_CTX_TRY_NUMBER": "1"})
    assert again is not None and again.run.runId == airflow.run.runId, "one task try, one parent run"
    assert parent_facet({}) is None
    assert parent_facet({"OPENLINEAGE_PARENT_ID": "not-a-parent"}) is None
