"""sparkfs: a feature store on Apache Spark.

``from sparkfs import FeatureStore`` is the Python API (:mod:`sparkfs.store`); it is imported
on first use, so executors that import ``sparkfs`` for its engines do not load the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkfs.errors import SparkfsError

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace
    from sparkfs.store import FeatureStore

__all__ = ["FeatureStore", "SparkfsError", "Workspace", "__version__"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "FeatureStore":
        from sparkfs.store import FeatureStore

        return FeatureStore
    if name == "Workspace":
        from sparkfs.pipeline.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'sparkfs' has no attribute {name!r}")
