"""Purpose-built repositories for the catalog and report tests, and what jobs would record.

Runs, gate results and sync checkpoints are written through the registry's own stores, as the
jobs write them, so a test can put a view in exactly the state a checklist rule looks at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from sparkfs.config import load_config
from sparkfs.definitions import definition_version
from sparkfs.governance.lifecycle import ReviewBoard
from sparkfs.pipeline.workspace import Workspace
from sparkfs.quality.report import QualityReport, RuleResult
from sparkfs.registry.quality_results import QualityStore
from sparkfs.registry.schema import sync_checkpoints

__all__ = ["approve", "open_catalog_project", "record_gate", "record_run", "record_sync",
           "version_of"]


def open_catalog_project(root: Path, features: str, extra: str = "",
                         governance: str = "{enabled: true, approvers: [alice, bob]}") -> Workspace:
    """A project with ``features`` (YAML) applied by ``author``."""
    (root / "conf" / "features").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "features" / "all.yaml").write_text(features)
    cfg = root / "conf" / "sparkfs.yaml"
    cfg.write_text(f"""project: catalogtest
data_dir: ../data
offline: {{root: ../offline, sandbox_root: ../sandbox}}
registry: {{url: "sqlite:///../registry.db"}}
online: {{type: redis, url: "redis://127.0.0.1:1/0"}}
governance: {governance}
{extra}""")
    ws = Workspace.open(load_config(cfg), user="author")
    ws.definitions.apply(ws.repository, user="author")
    return ws


def version_of(ws: Workspace, name: str) -> str:
    return definition_version(ws.repository.feature_view(name))


def approve(ws: Workspace, name: str, approver: str = "alice", kind: str = "feature_view") -> None:
    board = ReviewBoard(ws.engine, ws.config.governance)
    board.request("author", name, kind=kind, comment="please review")
    board.approve(approver, name, kind=kind, comment="lgtm")


def record_run(ws: Workspace, view: str, *, job: str = "materialize", status: str = "succeeded",
               table: str | None = None, output_version: int = 1, version: str | None = None) -> str:
    run_id = ws.runs.start(job, user="author", feature_view=view,
                           version=version or version_of(ws, view), spark_app_id="local-test",
                           details={"table": table or f"/nowhere/{view}"})
    ws.runs.finish(run_id, status=status, rows_in=10, rows_out=10, output_version=output_version)
    return run_id


def record_gate(ws: Workspace, view: str, run_id: str,
                results: list[tuple[str, str, bool]]) -> None:
    """(rule label, severity, passed) per rule, as the quality gate records them."""
    rules = [RuleResult(label, "not_null", severity, passed, 0 if passed else 3, {})
             for label, severity, passed in results]
    QualityStore(ws.engine).record(QualityReport(view, version_of(ws, view), run_id, 10,
                                                 {"row_count": 10}, rules))


def record_sync(ws: Workspace, view: str, *, delta_version: int = 1,
                definition_version: str | None = None, at: datetime | None = None) -> None:
    values: dict[str, Any] = {
        "feature_view": view, "namespace": "production",
        "definition_version": definition_version or version_of(ws, view),
        "delta_version": delta_version, "generation": 1, "updated_at": at or datetime.now(UTC),
        "features": None}
    with ws.engine.begin() as conn:
        conn.execute(insert(sync_checkpoints).values(**values))
