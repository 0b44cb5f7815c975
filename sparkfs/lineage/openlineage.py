"""OpenLineage export: START, COMPLETE and FAIL events of every run, via openlineage-python.

One OpenLineage job per feature view and job kind (``demo.user_txn_aggs.materialize``), not
one bulk job; training sets are ``PROJECT.training_set.SERVICE`` (or ``PROJECT.training_set``
for a list of features). Datasets carry the schema, dataSource, ownership, documentation and
version (the Delta version) facets; the offline table written also carries columnLineage.
The run carries a ``sparkfs`` facet (definition version and approval state, quality gate,
materialization window, rows), an ``errorMessage`` when it failed and a ``parent`` facet when
the environment names a parent run (``OPENLINEAGE_PARENT_ID``, or Airflow's ``AIRFLOW_CTX_*``).

Emitting never fails a run: an error is logged, counted on the emitter and in
``sparkfs_openlineage_emit_failures_total``, and the run goes on.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
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
)
from openlineage.client.facet_v2 import dataset_version_dataset as version_dataset
from prometheus_client import Counter

from sparkfs.lineage.record import DatasetRef, RunLineage, sparkfs_version

if TYPE_CHECKING:
    from openlineage.client.transport import Transport

    from sparkfs.config import OpenLineageConfig
    from sparkfs.definitions import FeatureView

__all__ = [
    "PRODUCER",
    "EmitStats",
    "OpenLineageEmitter",
    "RunContext",
    "SparkfsRunFacet",
    "dataset_naming",
    "job_name",
    "parent_facet",
]

log = logging.getLogger(__name__)

#: The producer URI of every event and facet sparkfs writes.
PRODUCER = "https://github.com/sparkfs/sparkfs"
SPARKFS_FACET_SCHEMA = "https://github.com/sparkfs/sparkfs/blob/main/docs/lineage.md#sparkfs-run-facet"

EMIT_FAILURES = Counter("sparkfs_openlineage_emit_failures_total",
                        "OpenLineage events that could not be emitted (the runs went on)", ["event"])


@attr.define
class SparkfsRunFacet(RunFacet):
    """sparkfs's own run facet (see docs/lineage.md)."""

    runId: str
    job: str
    namespace: str
    user: str
    featureView: str | None = None
    definitionVersion: str | None = None
    approvalState: str | None = None
    definitions: dict[str, str] = attr.field(factory=dict)
    code: dict[str, Any] = attr.field(factory=dict)
    qualityGate: dict[str, Any] | None = None
    window: dict[str, Any] | None = None
    rowsIn: int | None = None
    rowsOut: int | None = None
    sparkAppId: str | None = None
    _additional_skip_redact: ClassVar[list[str]] = ["runId", "job", "namespace"]

    @staticmethod
    def _get_schema() -> str:
        return SPARKFS_FACET_SCHEMA


@dataclass(frozen=True)
class RunContext:
    """Who and what a run is, besides its lineage."""

    run_id: str
    job: str
    project: str
    namespace: str
    user: str
    feature_view: str | None
    spark_app_id: str | None
    feature_service: str | None = None
    approval_state: str | None = None
    redis_uri: str | None = None


@dataclass
class EmitStats:
    emitted: int = 0
    failed: int = 0
    last_error: str | None = None


def job_name(project: str, job: str, feature_view: str | None, feature_service: str | None = None) -> str:
    """The OpenLineage job of a run: one per feature view and job kind."""
    if job in ("training_set", "reproduce"):
        return ".".join(p for p in (project, job, feature_service) if p)
    return ".".join(p for p in (project, feature_view, job) if p)


def dataset_naming(dataset: DatasetRef, redis_uri: str | None = None) -> tuple[str, str]:
    """(namespace, name) of a dataset after the OpenLineage naming conventions: ``file`` and
    the absolute path for local files, ``scheme://authority`` and the path otherwise, the
    Spark catalog for tables, the Redis server for online generations."""
    if dataset.kind == "online_generation":
        return redis_uri or "redis", dataset.name
    location = str(dataset.facets.get("path", dataset.name)) if dataset.kind == "training_set" else dataset.name
    if location.startswith("table:"):
        return "spark_catalog", location[len("table:"):]
    if "://" in location:
        parts = urlsplit(location)
        if parts.scheme == "file":
            return "file", parts.path
        return f"{parts.scheme}://{parts.netloc}", parts.path or "/"
    return "file", location


def redis_uri(url: str | None) -> str | None:
    """``redis://host:port`` of a Redis URL, without credentials or database."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}"


def parent_facet(env: Mapping[str, str] | None = None) -> parent_run.ParentRunFacet | None:
    """The parent run the environment names, if any.

    ``OPENLINEAGE_PARENT_ID`` is ``namespace/job/run-uuid`` (what Airflow's
    ``lineage_parent_id`` macro renders); without it, Airflow's task context
    (``AIRFLOW_CTX_DAG_ID``, ``AIRFLOW_CTX_TASK_ID``, ``AIRFLOW_CTX_DAG_RUN_ID``,
    ``AIRFLOW_CTX_TRY_NUMBER``) gives job ``dag.task`` in ``OPENLINEAGE_NAMESPACE`` (default
    ``default``) with a run id derived from the DAG run and try. ``OPENLINEAGE_ROOT_PARENT_ID``
    (same form) names the root run.
    """
    env = os.environ if env is None else env
    root = _root(env.get("OPENLINEAGE_ROOT_PARENT_ID"))
    parent_id = env.get("OPENLINEAGE_PARENT_ID")
    if parent_id:
        namespace, _, rest = parent_id.partition("/")
        name, _, run_id = rest.rpartition("/")
        try:
            run_id = str(uuid.UUID(run_id))
        except ValueError:
            log.warning("OPENLINEAGE_PARENT_ID=%r is not namespace/job/run-uuid; no parent facet", parent_id)
            return None
        return parent_run.ParentRunFacet(run=parent_run.Run(runId=run_id),
                                         job=parent_run.Job(namespace=namespace, name=name), root=root,
                                         producer=PRODUCER)
    dag, task = env.get("AIRFLOW_CTX_DAG_ID"), env.get("AIRFLOW_CTX_TASK_ID")
    if dag and task:
        seed = "/".join([dag, task, env.get("AIRFLOW_CTX_DAG_RUN_ID", ""), env.get("AIRFLOW_CTX_TRY_NUMBER", "")])
        run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow:{seed}"))
        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id),
            job=parent_run.Job(namespace=env.get("OPENLINEAGE_NAMESPACE", "default"), name=f"{dag}.{task}"),
            root=root, producer=PRODUCER)
    return None


def _root(value: str | None) -> parent_run.Root | None:
    if not value:
        return None
    namespace, _, rest = value.partition("/")
    name, _, run_id = rest.rpartition("/")
    try:
        return parent_run.Root(run=parent_run.RootRun(runId=str(uuid.UUID(run_id))),
                               job=parent_run.RootJob(namespace=namespace, name=name))
    except ValueError:
        return None


def _ol_run_id(run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sparkfs:{run_id}"))


class OpenLineageEmitter:
    """Builds and emits a run's events; one per run (it counts what it emitted)."""

    def __init__(self, config: OpenLineageConfig, *, transport: Transport | None = None) -> None:
        self.config = config
        self.stats = EmitStats()
        self._transport = transport

    def _client(self) -> OpenLineageClient:
        """A client on the configured transport (built on first use, so a transport that
        cannot be built is an emit failure like any other)."""
        if self._transport is None:
            self._transport = _make_transport(self.config)
        return OpenLineageClient(transport=self._transport)

    def emit(self, state: RunState, context: RunContext, lineage: RunLineage, *,
             views: Mapping[str, FeatureView] | None = None, error: str | None = None) -> bool:
        """Emit one event; ``False`` (logged and counted) when it could not be emitted."""
        try:
            event = self.event(state, context, lineage, views=views or {}, error=error)
            self._client().emit(event)
        except Exception as exc:
            self.stats.failed += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
            EMIT_FAILURES.labels(event=state.value).inc()
            log.warning("OpenLineage %s event of run %s not emitted (the run goes on): %s",
                        state.value, context.run_id, self.stats.last_error)
            return False
        self.stats.emitted += 1
        return True

    def event(self, state: RunState, context: RunContext, lineage: RunLineage, *,
              views: Mapping[str, FeatureView], error: str | None = None) -> RunEvent:
        """The event of ``state`` for the run (START carries what is known when it starts)."""
        view = views.get(context.feature_view) if context.feature_view else None
        service = context.feature_service
        run_facets: dict[str, Any] = {
            "sparkfs": self._sparkfs_facet(context, lineage),
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=sparkfs_version(), name="sparkfs", openlineageAdapterVersion=_client_version(),
                producer=PRODUCER),
        }
        parent = parent_facet()
        if parent is not None:
            run_facets["parent"] = parent
        if state == RunState.FAIL:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error or "the run failed", programmingLanguage="python", producer=PRODUCER)
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=_ol_run_id(context.run_id), facets=run_facets),
            job=Job(namespace=self.config.namespace,
                    name=job_name(context.project, context.job, context.feature_view, service),
                    facets=self._job_facets(context, view, lineage)),
            inputs=[self._input(d, views, context) for d in lineage.inputs],
            outputs=list({dataset_naming(d, context.redis_uri): self._output(d, views, context, lineage)
                          for d in lineage.outputs}.values()),  # a table written twice: its last version
            producer=PRODUCER,
        )

    def _sparkfs_facet(self, context: RunContext, lineage: RunLineage) -> SparkfsRunFacet:
        details = lineage.details
        version = lineage.definitions.get(f"feature_view:{context.feature_view}") if context.feature_view else None
        return SparkfsRunFacet(
            runId=context.run_id, job=context.job, namespace=context.namespace, user=context.user,
            featureView=context.feature_view, definitionVersion=version,
            approvalState=context.approval_state, definitions=dict(lineage.definitions),
            code=dict(lineage.code), qualityGate=details.get("quality"), window=details.get("window"),
            rowsIn=details.get("rows_in"), rowsOut=details.get("rows_out"),
            sparkAppId=context.spark_app_id, producer=PRODUCER)

    def _job_facets(self, context: RunContext, view: FeatureView | None, lineage: RunLineage) -> dict[str, Any]:
        facets: dict[str, Any] = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="SPARKFS", jobType=context.job.upper(), producer=PRODUCER)}
        if view is not None:
            if view.description:
                facets["documentation"] = documentation_job.DocumentationJobFacet(
                    description=view.description, producer=PRODUCER)
            if view.owner:
                facets["ownership"] = ownership_job.OwnershipJobFacet(
                    owners=[ownership_job.Owner(name=view.owner, type="OWNER")], producer=PRODUCER)
            if view.transformation is not None and view.transformation.type == "sql":
                facets["sql"] = sql_job.SQLJobFacet(query=view.transformation.query.strip(), producer=PRODUCER)
        return facets

    def _dataset_facets(self, dataset: DatasetRef, namespace: str, name: str,
                        views: Mapping[str, FeatureView], context: RunContext) -> dict[str, Any]:
        facets: dict[str, Any] = {"dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=namespace, uri=namespace if "://" in namespace else f"{namespace}://", producer=PRODUCER)}
        schema = dataset.facets.get("schema")
        if schema:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"]) for f in schema],
                producer=PRODUCER)
        if dataset.version is not None:
            facets["version"] = version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=dataset.version, producer=PRODUCER)
        owner_view = views.get(str(dataset.facets.get("feature_view", "")))
        if owner_view is None and dataset.kind == "source" and context.feature_view:
            owner_view = views.get(context.feature_view)
        if owner_view is not None and dataset.kind != "source":
            facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name=owner_view.owner, type="OWNER")], producer=PRODUCER)
            if owner_view.description:
                facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
                    description=owner_view.description, producer=PRODUCER)
        return facets

    def _input(self, dataset: DatasetRef, views: Mapping[str, FeatureView], context: RunContext) -> InputDataset:
        namespace, name = dataset_naming(dataset, context.redis_uri)
        return InputDataset(namespace=namespace, name=name,
                            facets=self._dataset_facets(dataset, namespace, name, views, context))

    def _output(self, dataset: DatasetRef, views: Mapping[str, FeatureView], context: RunContext,
                lineage: RunLineage) -> OutputDataset:
        namespace, name = dataset_naming(dataset, context.redis_uri)
        facets = self._dataset_facets(dataset, namespace, name, views, context)
        columns = lineage.details.get("columns")
        if dataset.kind == "offline_table" and columns:
            facets["columnLineage"] = _column_lineage_facet(columns, lineage, context)
        return OutputDataset(namespace=namespace, name=name, facets=facets)


_TRANSFORMATION = {"identity": ("DIRECT", "IDENTITY"), "transformation": ("DIRECT", "TRANSFORMATION"),
                   "aggregation": ("DIRECT", "AGGREGATION")}


def _column_lineage_facet(columns: list[dict[str, Any]], lineage: RunLineage,
                          context: RunContext) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Per feature, the source columns it derives from (features of unknown origin are left
    out: OpenLineage has no way to say "unknown", and sparkfs does not guess)."""
    sources = {d.name: dataset_naming(d, context.redis_uri) for d in lineage.inputs if d.kind == "source"}
    fields: dict[str, column_lineage_dataset.Fields] = {}
    for item in columns:
        if item["how"] == "unknown" or not item["sources"]:
            continue
        kind, subtype = _TRANSFORMATION[item["how"]]
        inputs = []
        for source, column in item["sources"]:
            namespace, name = sources.get(source, ("file", source))
            inputs.append(column_lineage_dataset.InputField(
                namespace=namespace, name=name, field=column,
                transformations=[column_lineage_dataset.Transformation(
                    type=kind, subtype=subtype, description=item["detail"], masking=False)]))
        fields[item["feature"]] = column_lineage_dataset.Fields(inputFields=inputs)
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)


def _client_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openlineage-python")
    except PackageNotFoundError:
        return "unknown"


def _make_transport(config: OpenLineageConfig) -> Transport:
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport, create_token_provider

    transport = config.transport
    if transport.type == "console":
        return ConsoleTransport(ConsoleConfig())
    if transport.type == "file":
        from pathlib import Path

        Path(transport.path).parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=transport.path, append=transport.append))
    auth = create_token_provider({"type": "api_key", "apiKey": transport.api_key}) if transport.api_key else None
    http = HttpConfig(url=transport.url, endpoint=transport.endpoint, timeout=transport.timeout_s,
                      retry={"total": transport.retries, "connect": transport.retries,
                             "read": transport.retries, "backoff_factor": 0.3,
                             "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["POST"]})
    if auth is not None:
        http.auth = auth
    return HttpTransport(http)
