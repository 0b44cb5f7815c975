"""sparkfs: a feature store on Apache Spark."""

from __future__ import annotations

from sparkfs.errors import SparkfsError

__all__ = ["SparkfsError", "__version__"]

__version__ = "0.1.0"
