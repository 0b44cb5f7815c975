"""Training sets built, with everything needed to rebuild them identically."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from sparkfs.errors import NotFoundError
from sparkfs.registry.schema import training_sets

__all__ = ["TrainingSetRecord", "TrainingSetStore"]


@dataclass(frozen=True)
class TrainingSetRecord:
    id: str
    created_at: datetime
    user: str
    spine: str
    out: str
    format: str
    features: list[str]
    feature_service: str | None
    table_versions: dict[str, int]
    definition_versions: dict[str, str]
    options: dict[str, Any] | None


class TrainingSetStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, **fields: Any) -> TrainingSetRecord:
        values = {"id": uuid.uuid4().hex[:16], "created_at": datetime.now(UTC), **fields}
        with self._engine.begin() as conn:
            conn.execute(insert(training_sets).values(**values))
        return self.get(values["id"])

    def get(self, training_set_id: str) -> TrainingSetRecord:
        with self._engine.connect() as conn:
            row = conn.execute(select(training_sets).where(training_sets.c.id == training_set_id)).first()
        if row is None:
            raise NotFoundError(f"no training set {training_set_id!r}; `sparkfs training-set list` shows them")
        return TrainingSetRecord(**dict(row._mapping))

    def list(self, limit: int = 50) -> list[TrainingSetRecord]:
        query = select(training_sets).order_by(training_sets.c.created_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [TrainingSetRecord(**dict(r._mapping)) for r in conn.execute(query)]
