"""The online store: Redis / Redis Cluster key layout, bulk writer, reader and sync engine.

Serving imports the reader without Spark; ``sync_feature_view`` (which needs pyspark) is loaded
on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkfs.online.checkpoints import Checkpoint, CheckpointStore, InMemoryCheckpointStore
from sparkfs.online.generations import Generations
from sparkfs.online.layout import LAYOUT_VERSION
from sparkfs.online.reader import AsyncOnlineReader, OnlineReader, Status, ViewValue
from sparkfs.online.view import Field, OnlineView

if TYPE_CHECKING:
    from sparkfs.online.sync import SyncResult, sync_feature_view

__all__ = [
    "LAYOUT_VERSION",
    "AsyncOnlineReader",
    "Checkpoint",
    "CheckpointStore",
    "Field",
    "Generations",
    "InMemoryCheckpointStore",
    "OnlineReader",
    "OnlineView",
    "Status",
    "SyncResult",
    "ViewValue",
    "sync_feature_view",
]


def __getattr__(name: str) -> Any:
    if name in ("sync_feature_view", "SyncResult"):
        from sparkfs.online import sync

        return getattr(sync, name)
    raise AttributeError(name)
