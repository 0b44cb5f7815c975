"""Reading a feature view's source and applying its transformation."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkfs.definitions import FeatureView, PythonTransformation, SqlTransformation
from sparkfs.delta_log import latest_version
from sparkfs.errors import NotFoundError, SchemaMismatchError, ValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SourceRead", "apply_transformation", "read_source", "resolve_source_path"]


@dataclass(frozen=True)
class SourceRead:
    """A source as read: the frame, where it came from and (Delta) the version read."""

    df: DataFrame
    location: str
    delta_version: int | None


def resolve_source_path(path: str, data_dir: str) -> str:
    """Relative source paths live under the config's ``data_dir``."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str(Path(data_dir) / path)


def read_source(
    spark: SparkSession, view: FeatureView, data_dir: str, *, as_of_version: int | None = None
) -> SourceRead:
    """Read the source, pinning a Delta source to one version so the run is reproducible."""
    src = view.source
    where = f"feature view {view.name!r}: source"
    try:
        if src.type == "table":
            return SourceRead(spark.read.table(src.table), f"table:{src.table}", None)
        location = resolve_source_path(src.path, data_dir)
        if src.type == "delta":
            version = as_of_version if as_of_version is not None else latest_version(spark, location)
            df = spark.read.format("delta").option("versionAsOf", version).load(location)
            return SourceRead(df, location, version)
        if src.type == "parquet":
            return SourceRead(spark.read.parquet(location), location, None)
        reader = spark.read
        for key, value in src.options.items():
            reader = reader.option(key, value)
        return SourceRead(reader.csv(location), location, None)
    except Exception as exc:  # Spark raises AnalysisException / Py4J errors for missing paths
        text = str(exc)
        if any(s in text for s in ("PATH_NOT_FOUND", "is not a Delta table", "TABLE_OR_VIEW_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE")):
            raise NotFoundError(
                f"{where}: {getattr(src, 'path', getattr(src, 'table', ''))} does not exist or is not a "
                f"{src.type} source; generate the data (e.g. `sparkfs demo generate`) or fix the path"
            ) from exc
        raise


def _load_function(dotted: str) -> Any:
    module_name, _, attr = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(f"transformation {dotted!r}: cannot import {module_name}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValidationError(f"transformation {dotted!r}: {module_name} has no function {attr}")
    return fn


def apply_transformation(spark: SparkSession, view: FeatureView, df: DataFrame) -> DataFrame:
    """Run the view's SQL (``{source}`` bound to ``df``) or Python ``DataFrame -> DataFrame``."""
    from pyspark.sql import DataFrame as SparkDataFrame

    transformation = view.transformation
    if transformation is None:
        return df
    if isinstance(transformation, SqlTransformation):
        try:
            return spark.sql(transformation.query, source=df)
        except Exception as exc:
            # Spark's messages start with an empty line; the first non-empty one names the
            # error class and the position (e.g. "[PARSE_SYNTAX_ERROR] Syntax error at ...")
            reason = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                          type(exc).__name__)
            raise SchemaMismatchError(
                f"feature view {view.name!r}: the transformation query failed against the source: "
                f"{reason}; fix the query or the source"
            ) from exc
    assert isinstance(transformation, PythonTransformation)
    out = _load_function(transformation.function)(df)
    if not isinstance(out, SparkDataFrame):
        raise ValidationError(
            f"transformation {transformation.function!r} returned {type(out).__name__}, not a DataFrame"
        )
    return out
