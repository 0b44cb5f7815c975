"""Online sync checkpoints in the registry (implements the online store's CheckpointStore)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, and_, delete, insert, select, update

from sparkfs.online.checkpoints import Checkpoint
from sparkfs.registry.schema import sync_checkpoints

__all__ = ["SqlCheckpointStore"]


class SqlCheckpointStore:
    """One checkpoint per (feature view, namespace); moved only after a fully successful sync."""

    def __init__(self, engine: Engine, namespace: str = "production") -> None:
        self._engine = engine
        self._namespace = namespace
        self._features: dict[str, list[list[str]]] = {}

    def _key(self, view_name: str):  # type: ignore[no-untyped-def]
        return and_(sync_checkpoints.c.feature_view == view_name, sync_checkpoints.c.namespace == self._namespace)

    def get(self, view_name: str) -> Checkpoint | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(sync_checkpoints).where(self._key(view_name))).first()
        if row is None:
            return None
        return Checkpoint(definition_version=row.definition_version, delta_version=row.delta_version,
                          generation=row.generation)

    def put(self, view_name: str, checkpoint: Checkpoint) -> None:
        values = {"definition_version": checkpoint.definition_version, "delta_version": checkpoint.delta_version,
                  "generation": checkpoint.generation, "updated_at": datetime.now(UTC),
                  "features": self._features.get(view_name)}
        with self._engine.begin() as conn:
            if conn.execute(select(sync_checkpoints.c.feature_view).where(self._key(view_name))).first() is None:
                conn.execute(insert(sync_checkpoints).values(feature_view=view_name, namespace=self._namespace, **values))
            else:
                conn.execute(update(sync_checkpoints).where(self._key(view_name)).values(**values))

    def will_write_features(self, view_name: str, features: list[tuple[str, str]]) -> None:
        """The feature types the coming sync of ``view_name`` encodes with; stored by ``put`` in
        the same statement as the checkpoint, so a reader never pairs a new checkpoint with the
        types of an older version (serving decodes with them)."""
        self._features[view_name] = [[name, dtype] for name, dtype in features]

    def forget(self, view_name: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(sync_checkpoints).where(self._key(view_name)))

    def updated_at(self) -> dict[str, datetime]:
        """When each view was last synced (serving reports it as freshness)."""
        query = select(sync_checkpoints.c.feature_view, sync_checkpoints.c.updated_at).where(
            sync_checkpoints.c.namespace == self._namespace)
        with self._engine.connect() as conn:
            return {r.feature_view: (r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=UTC))
                    for r in conn.execute(query)}

    def views(self) -> list[str]:
        query = select(sync_checkpoints.c.feature_view).where(sync_checkpoints.c.namespace == self._namespace)
        with self._engine.connect() as conn:
            return [r.feature_view for r in conn.execute(query)]
