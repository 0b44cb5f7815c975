"""The one run recorder every job goes through: start, succeed or fail, in the registry.

Materialization, backfill chunks, syncs, training sets and validations all run inside
:func:`recorded_run`. The job fills in what it read and wrote on the :class:`RunHandle` it is
given; on leaving the block the run is finished as ``succeeded`` (or as the handle's status,
e.g. a validation whose gate failed), and on any exception as ``failed`` with the error, which
is re-raised. A process killed mid-run leaves its row ``running`` until
:meth:`sparkfs.registry.runs.RunStore.reap_stale` marks it failed.

Example::

    with recorded_run(workspace, "sync", spark=spark, feature_view="user_profile") as run:
        result = sync_feature_view(...)
        run.rows_in, run.rows_out = result.rows_sent, result.entities_written
    print(run.record.status)  # "succeeded"
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sparkfs.registry.runs import RunRecord

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["RunHandle", "recorded_run"]

#: The longest error text stored with a failed run.
MAX_ERROR_CHARS = 4000


@dataclass
class RunHandle:
    """What a running job reports about itself; :func:`recorded_run` writes it at the end."""

    run_id: str
    rows_in: int | None = None
    rows_out: int | None = None
    input_versions: dict[str, Any] | None = None
    output_version: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    status: Literal["succeeded", "failed"] = "succeeded"
    error: str | None = None
    #: The finished run as the registry holds it (set when the block ends).
    record: RunRecord | None = None


@contextmanager
def recorded_run(
    workspace: Workspace,
    job: str,
    *,
    spark: SparkSession | None = None,
    feature_view: str | None = None,
    version: str | None = None,
    range_start: datetime | None = None,
    range_end: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Iterator[RunHandle]:
    """Record ``job`` as a run of ``workspace``'s user and namespace around the block.

    Args:
        workspace: whose registry, user and namespace the run belongs to.
        job: ``materialize``, ``backfill``, ``sync``, ``training_set``, ``validate``, ...
        spark: the session, for the Spark application id (omitted for jobs without Spark).
        feature_view, version: the definition the run computes, when it is about one view.
        range_start, range_end: the event-time range the run covers, if any.
        details: extra JSON recorded when the run starts (merged with the handle's at the end).

    Yields:
        The run's :class:`RunHandle`; the job sets what it read and wrote on it.
    """
    run_id = workspace.runs.start(
        job, user=workspace.user, feature_view=feature_view, version=version,
        namespace=workspace.namespace, range_start=range_start, range_end=range_end,
        spark_app_id=spark.sparkContext.applicationId if spark is not None else None, details=details,
    )
    handle = RunHandle(run_id)
    try:
        yield handle
    except BaseException as exc:
        handle.record = workspace.runs.finish(
            run_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS],
            details=handle.details or None,
        )
        raise
    handle.record = workspace.runs.finish(
        run_id, status=handle.status, rows_in=handle.rows_in, rows_out=handle.rows_out,
        input_versions=handle.input_versions, output_version=handle.output_version,
        error=handle.error[:MAX_ERROR_CHARS] if handle.error else None, details=handle.details or None,
    )
