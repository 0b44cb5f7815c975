"""Job runs: one row per materialization, backfill chunk, sync, training set or validation.

A run is inserted as ``running`` with the process id and host that owns it, and finished as
``succeeded`` or ``failed``. A process killed mid-run cannot finish its row; the next command
that looks at runs calls :meth:`RunStore.reap_stale`, which marks runs of dead local processes
as failed.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from sparkfs.errors import NotFoundError
from sparkfs.registry.schema import runs

__all__ = ["RunRecord", "RunStore"]


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job: str
    feature_view: str | None
    version: str | None
    namespace: str
    range_start: datetime | None
    range_end: datetime | None
    status: str
    rows_in: int | None
    rows_out: int | None
    input_versions: dict[str, Any] | None
    output_version: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    spark_app_id: str | None
    user: str
    error: str | None
    details: dict[str, Any] | None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything sparkfs stores is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(
        self,
        job: str,
        *,
        user: str,
        feature_view: str | None = None,
        version: str | None = None,
        namespace: str = "production",
        range_start: datetime | None = None,
        range_end: datetime | None = None,
        spark_app_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        run_id = uuid.uuid4().hex
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        with self._engine.begin() as conn:
            conn.execute(
                insert(runs).values(
                    run_id=run_id, job=job, feature_view=feature_view, version=version,
                    namespace=namespace, range_start=range_start, range_end=range_end,
                    status="running", started_at=datetime.now(UTC), spark_app_id=spark_app_id,
                    user=user, details={**(details or {}), "owner": owner},
                )
            )
        return run_id

    def finish(
        self,
        run_id: str,
        *,
        status: str,
        rows_in: int | None = None,
        rows_out: int | None = None,
        input_versions: dict[str, Any] | None = None,
        output_version: int | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> RunRecord:
        record = self.get(run_id)
        ended = datetime.now(UTC)
        started = _aware(record.started_at)
        assert started is not None
        values: dict[str, Any] = {
            "status": status, "ended_at": ended, "duration_s": (ended - started).total_seconds(),
            "rows_in": rows_in, "rows_out": rows_out, "input_versions": input_versions,
            "output_version": output_version, "error": error,
        }
        if details:
            values["details"] = {**(record.details or {}), **details}
        with self._engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r}; `sparkfs runs` lists them")
        return self._record(row)

    def list(self, feature_view: str | None = None, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        query = select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if feature_view is not None:
            query = query.where(runs.c.feature_view == feature_view)
        if job is not None:
            query = query.where(runs.c.job == job)
        with self._engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query).all()]

    def reap_stale(self) -> int:
        """Mark ``running`` runs owned by dead processes on this host as failed."""
        host = socket.gethostname()
        reaped = 0
        for record in self.list(limit=10_000):
            owner = (record.details or {}).get("owner", {})
            if record.status == "running" and owner.get("host") == host and not _alive(int(owner.get("pid", 0))):
                self.finish(record.run_id, status="failed", error="the process running it died (killed or crashed)")
                reaped += 1
        return reaped

    @staticmethod
    def _record(row: Any) -> RunRecord:
        data = dict(row._mapping)
        for key in ("range_start", "range_end", "started_at", "ended_at"):
            data[key] = _aware(data[key])
        return RunRecord(**data)
