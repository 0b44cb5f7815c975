"""The lineage tables of the registry: ``lineage_runs`` and ``lineage_datasets``.

Append-only like the audit log: a run's lineage is inserted once, when the run ends, in one
transaction; triggers (:mod:`sparkfs.registry.database`) reject updates, deletes and inserts
that would replace a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from sparkfs.lineage.record import DatasetRef, RunLineage
from sparkfs.registry.schema import lineage_datasets, lineage_runs

__all__ = ["LineageRun", "LineageStore"]


@dataclass(frozen=True)
class LineageRun:
    """A run's recorded lineage: the run's identity plus what it read and wrote."""

    run_id: str
    job: str
    feature_view: str | None
    namespace: str
    status: str
    user: str
    spark_app_id: str | None
    started_at: datetime
    ended_at: datetime
    definitions: dict[str, str]
    code: dict[str, Any]
    details: dict[str, Any]
    inputs: tuple[DatasetRef, ...]
    outputs: tuple[DatasetRef, ...]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class LineageStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self, *, run_id: str, job: str, feature_view: str | None, namespace: str, status: str,
        user: str, spark_app_id: str | None, started_at: datetime, ended_at: datetime | None,
        lineage: RunLineage,
    ) -> None:
        """Insert the lineage of a finished run (once: a second call for the run is refused)."""
        with self._engine.begin() as conn:
            conn.execute(insert(lineage_runs).values(
                run_id=run_id, job=job, feature_view=feature_view, namespace=namespace, status=status,
                user=user, spark_app_id=spark_app_id, started_at=started_at,
                ended_at=ended_at or datetime.now(UTC), definitions=dict(lineage.definitions),
                code=dict(lineage.code), details=dict(lineage.details)))
            rows = [{"run_id": run_id, "role": role, "kind": d.kind, "name": d.name, "version": d.version,
                     "facets": dict(d.facets)}
                    for role, datasets in (("input", lineage.inputs), ("output", lineage.outputs))
                    for d in datasets]
            if rows:
                conn.execute(insert(lineage_datasets), rows)

    def runs(self, *, namespace: str | None = None, run_id: str | None = None) -> list[LineageRun]:
        """Recorded runs (of one namespace, or the one run, if given), oldest first, with their
        datasets."""
        query = select(lineage_runs).order_by(lineage_runs.c.ended_at, lineage_runs.c.run_id)
        if namespace is not None:
            query = query.where(lineage_runs.c.namespace == namespace)
        if run_id is not None:
            query = query.where(lineage_runs.c.run_id == run_id)
        datasets = select(lineage_datasets).where(lineage_datasets.c.run_id.in_(
            query.with_only_columns(lineage_runs.c.run_id).order_by(None))).order_by(lineage_datasets.c.id)
        with self._engine.connect() as conn:
            heads = [dict(r._mapping) for r in conn.execute(query)]
            io: dict[str, dict[str, list[DatasetRef]]] = {}
            for row in conn.execute(datasets):
                ref = DatasetRef(row.kind, row.name, row.version, row.facets or {})
                io.setdefault(row.run_id, {"input": [], "output": []})[row.role].append(ref)
        out = []
        for head in heads:
            sides = io.get(head["run_id"], {"input": [], "output": []})
            out.append(LineageRun(
                **{**head, "started_at": _aware(head["started_at"]), "ended_at": _aware(head["ended_at"]),
                   "details": head["details"] or {}},
                inputs=tuple(sides["input"]), outputs=tuple(sides["output"])))
        return out

    def run(self, run_id: str) -> LineageRun | None:
        found = self.runs(run_id=run_id)
        return found[0] if found else None
