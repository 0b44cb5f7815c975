"""Where a view's sync stopped: definition version, Delta version and live generation.

The sync only moves a checkpoint after a run fully succeeded. The store is a Protocol so the
registry (SQL) backs it in production while tests use :class:`InMemoryCheckpointStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Checkpoint", "CheckpointStore", "InMemoryCheckpointStore"]


@dataclass(frozen=True)
class Checkpoint:
    """The state of the online copy of one view after its last successful sync."""

    definition_version: str
    delta_version: int
    generation: int


class CheckpointStore(Protocol):
    """Persists one :class:`Checkpoint` per view name."""

    def get(self, view_name: str) -> Checkpoint | None: ...

    def put(self, view_name: str, checkpoint: Checkpoint) -> None: ...


class InMemoryCheckpointStore:
    """A dict-backed store for tests and one-off runs."""

    def __init__(self) -> None:
        self._items: dict[str, Checkpoint] = {}

    def get(self, view_name: str) -> Checkpoint | None:
        return self._items.get(view_name)

    def put(self, view_name: str, checkpoint: Checkpoint) -> None:
        self._items[view_name] = checkpoint
