"""Outputs sparkfs wrote at a user's request, so that a rerun may replace its own output.

A path is recorded once its write succeeded; :meth:`OutputStore.kind_of` answers what sparkfs
wrote there. Training sets recorded before this table existed are found by their ``out``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from sparkfs.registry.schema import training_sets, written_outputs

__all__ = ["OutputStore", "normalize_path"]


def normalize_path(path: str) -> str:
    """A comparable form: absolute and symlink-free for local paths, no trailing ``/``."""
    local = path[len("file:"):] if path.startswith("file:") else path
    if "://" in local:
        return local.rstrip("/")
    local = "/" + local.lstrip("/") if path.startswith("file:") else local
    return os.path.realpath(os.path.abspath(os.path.expanduser(local)))


class OutputStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, path: str, kind: str, user: str, ref: str | None = None) -> None:
        """Remember that ``path`` now holds a ``kind`` sparkfs wrote (replacing what it held)."""
        target = normalize_path(path)
        with self._engine.begin() as conn:
            conn.execute(delete(written_outputs).where(written_outputs.c.path == target))
            conn.execute(insert(written_outputs).values(path=target, kind=kind, user=user, ref=ref,
                                                        written_at=datetime.now(UTC)))

    def kind_of(self, path: str) -> str | None:
        """What sparkfs recorded writing at ``path`` (None: nothing, or not sparkfs)."""
        target = normalize_path(path)
        with self._engine.connect() as conn:
            row = conn.execute(select(written_outputs.c.kind)
                               .where(written_outputs.c.path == target)).first()
            if row is not None:
                return str(row.kind)
            legacy = conn.execute(select(training_sets.c.out).where(
                training_sets.c.out.in_({path, target}))).first()
        return "training_set" if legacy is not None else None
