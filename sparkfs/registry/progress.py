"""Progress of offline jobs: finished backfill chunks and incremental watermarks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from sparkfs.registry.schema import backfill_chunks, watermarks

__all__ = ["ProgressStore"]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ProgressStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def done_chunks(self, view: str, version: str, namespace: str) -> set[tuple[datetime, datetime]]:
        query = select(backfill_chunks.c.chunk_start, backfill_chunks.c.chunk_end).where(
            and_(backfill_chunks.c.feature_view == view, backfill_chunks.c.version == version,
                 backfill_chunks.c.namespace == namespace)
        )
        with self._engine.connect() as conn:
            return {(_aware(r.chunk_start), _aware(r.chunk_end)) for r in conn.execute(query)}

    def mark_chunk(self, view: str, version: str, namespace: str, start: datetime, end: datetime, run_id: str) -> None:
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(backfill_chunks.c.run_id).where(
                    and_(backfill_chunks.c.feature_view == view, backfill_chunks.c.version == version,
                         backfill_chunks.c.namespace == namespace, backfill_chunks.c.chunk_start == start,
                         backfill_chunks.c.chunk_end == end)
                )
            ).first()
            if exists is None:
                conn.execute(insert(backfill_chunks).values(
                    feature_view=view, version=version, namespace=namespace, chunk_start=start,
                    chunk_end=end, run_id=run_id, completed_at=datetime.now(UTC)))

    def watermark(self, view: str, version: str, namespace: str) -> datetime | None:
        query = select(watermarks.c.watermark).where(
            and_(watermarks.c.feature_view == view, watermarks.c.version == version, watermarks.c.namespace == namespace)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _aware(row.watermark)

    def set_watermark(self, view: str, version: str, namespace: str, value: datetime,
                      source_versions: dict[str, Any] | None) -> None:
        key = and_(watermarks.c.feature_view == view, watermarks.c.version == version, watermarks.c.namespace == namespace)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            if conn.execute(select(watermarks.c.watermark).where(key)).first() is None:
                conn.execute(insert(watermarks).values(
                    feature_view=view, version=version, namespace=namespace, watermark=value,
                    source_versions=source_versions, updated_at=now))
            else:
                conn.execute(update(watermarks).where(key).values(
                    watermark=value, source_versions=source_versions, updated_at=now))
