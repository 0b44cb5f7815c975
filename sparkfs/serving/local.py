"""In-process lookups for notebooks and ``FeatureStore.get_online_features`` (no HTTP).

Builds the catalog from the registry on each call (a notebook call, not a hot path) and runs
the same planning, validation and response shaping as the HTTP endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkfs.online.reader import OnlineReader
from sparkfs.pipeline.serving_catalog import CatalogSource
from sparkfs.serving.lookup import read_blocking
from sparkfs.serving.shapes import rows_response

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["lookup_once"]


def lookup_once(workspace: Workspace, entities: Mapping[str, Sequence[Any]], *,
                features: Sequence[str] | None = None,
                feature_service: str | None = None) -> dict[str, Any]:
    """``{"features": [...], "rows": [...]}`` exactly as ``POST /v1/features:lookup``."""
    source = CatalogSource(workspace)
    source.refresh()
    serving = workspace.config.serving
    reader = OnlineReader(workspace.config.online, timeout_s=serving.redis_timeout_s)
    try:
        result = read_blocking(reader, source.catalog, entities, features=features,
                               feature_service=feature_service,
                               max_entities=serving.max_entities)
    finally:
        reader.close()
    return rows_response(result)
