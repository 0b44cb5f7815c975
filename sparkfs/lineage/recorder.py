"""The lineage side of a recorded run: START when it begins; at its end, the lineage stored
in the registry and COMPLETE or FAIL exported.

The pipeline's run recorder (:func:`sparkfs.pipeline.runs.recorded_run`) owns one
:class:`RunLineageRecorder` per run; the job fills ``recorder.lineage`` (through its run
handle) as it learns what it reads and writes. Storing is part of the run (the registry is
the record); exporting is best effort (:mod:`sparkfs.lineage.openlineage`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sparkfs.lineage.record import RunLineage, code_identity
from sparkfs.lineage.store import LineageStore

if TYPE_CHECKING:
    from sparkfs.lineage.openlineage import OpenLineageEmitter, RunContext
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["RunLineageRecorder"]

log = logging.getLogger(__name__)


class RunLineageRecorder:
    """Collects, stores and exports the lineage of one run (see the module docstring)."""

    def __init__(self, workspace: Workspace, *, run_id: str, job: str, feature_view: str | None,
                 spark_app_id: str | None, started_at: datetime | None = None,
                 feature_service: str | None = None) -> None:
        self.workspace = workspace
        self.feature_service = feature_service
        self.run_id = run_id
        self.job = job
        self.feature_view = feature_view
        self.spark_app_id = spark_app_id
        self.started_at = started_at or datetime.now(UTC)
        self.lineage = RunLineage()
        self._emitter = self._make_emitter()
        self._base_code()

    def _base_code(self) -> None:
        view = self.workspace.repository.feature_views.get(self.feature_view or "")
        transformation = view.transformation if view is not None else None
        try:
            self.lineage.code = code_identity(self.workspace.config.features_dir, transformation)
        except Exception as exc:  # the identity describes the run; it never stops it
            self.lineage.code = {"error": f"{type(exc).__name__}: {exc}"[:300]}

    def _make_emitter(self) -> OpenLineageEmitter | None:
        config = self.workspace.config.lineage.openlineage
        if config is None:
            return None
        from sparkfs.lineage.openlineage import OpenLineageEmitter

        return OpenLineageEmitter(config)

    def start(self) -> None:
        """Emit START (when OpenLineage is configured)."""
        self._emit("START")

    def finish(self, *, status: str, error: str | None = None, ended_at: datetime | None = None,
               rows_in: int | None = None, rows_out: int | None = None) -> None:
        """Emit COMPLETE or FAIL, then store the lineage (with the export's counts)."""
        details = self.lineage.details
        if rows_in is not None:
            details.setdefault("rows_in", rows_in)
        if rows_out is not None:
            details.setdefault("rows_out", rows_out)
        if error:
            details["error"] = error[:4000]
        self._emit("COMPLETE" if status == "succeeded" else "FAIL", error=error)
        if self._emitter is not None:
            stats = self._emitter.stats
            details["openlineage"] = {"emitted": stats.emitted, "failed": stats.failed,
                                      "last_error": stats.last_error}
        ws = self.workspace
        LineageStore(ws.engine).record(
            run_id=self.run_id, job=self.job, feature_view=self.feature_view, namespace=ws.namespace,
            status=status, user=ws.user, spark_app_id=self.spark_app_id, started_at=self.started_at,
            ended_at=ended_at or datetime.now(UTC), lineage=self.lineage)

    def _emit(self, state: str, *, error: str | None = None) -> None:
        if self._emitter is None:
            return
        try:
            from openlineage.client.event_v2 import RunState

            self._emitter.emit(RunState(state), self._context(), self.lineage,
                               views=self.workspace.repository.feature_views, error=error)
        except Exception as exc:  # emit() already catches; this guards building its arguments
            self._emitter.stats.failed += 1
            log.warning("OpenLineage %s event of run %s not emitted: %s", state, self.run_id, exc)

    def _context(self) -> RunContext:
        from sparkfs.lineage.openlineage import RunContext, redis_uri

        ws = self.workspace
        online: Any = ws.config.online
        return RunContext(
            run_id=self.run_id, job=self.job, project=ws.config.project, namespace=ws.namespace,
            user=ws.user, feature_view=self.feature_view, spark_app_id=self.spark_app_id,
            feature_service=self.feature_service, approval_state=self._approval_state(), redis_uri=redis_uri(getattr(online, "url", None)))

    def _approval_state(self) -> str | None:
        if self.feature_view is None:
            return None
        version = self.lineage.definitions.get(f"feature_view:{self.feature_view}")
        try:
            from sparkfs.governance.lifecycle import ReviewBoard

            ws = self.workspace
            state = ReviewBoard(ws.engine, ws.config.governance).state("feature_view", self.feature_view, version).state
        except Exception:  # e.g. a sandbox run of a version never applied
            return "unapplied" if self.workspace.namespace == "sandbox" else None
        return state if self.workspace.config.governance.enabled else f"{state} (governance disabled)"
