"""Reading a feature view's source and applying its transformation."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkfs.definitions import FeatureView, PythonTransformation, SqlTransformation
from sparkfs.delta_log import latest_version
from sparkfs.errors import NotFoundError, SchemaMismatchError, SparkfsError, ValidationError
from sparkfs.offline.parquet import NANOS_AS_LONG, nanos_columns, parquet_files, read_parquet
from sparkfs.spark_errors import SparkFailure

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SourceRead", "apply_transformation", "read_source", "resolve_source_path", "source_error"]


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
    """Read the source, pinning a Delta source to one version so the run is reproducible.

    The version is ``as_of_version`` if given, else the source's ``version``, else the latest.

    Raises:
        NotFoundError: the path, table or Delta version does not exist.
        SchemaMismatchError: the data cannot be read as the declared source type.
    """
    src = view.source
    location = f"table:{src.table}" if src.type == "table" else resolve_source_path(src.path, data_dir)
    try:
        if src.type == "table":
            return SourceRead(spark.read.table(src.table), location, None)
        if src.type == "delta":
            version = as_of_version if as_of_version is not None else src.version
            if version is None:
                version = latest_version(spark, location)
            df = spark.read.format("delta").option("versionAsOf", version).load(location)
            return SourceRead(df, location, version)
        if src.type == "parquet":
            return SourceRead(read_parquet(spark, location), location, None)
        reader = spark.read
        options = dict(src.options)
        if src.timestamp_format is not None:  # schema inference uses it too
            options.setdefault("timestampFormat", src.timestamp_format)
        for key, value in options.items():
            reader = reader.option(key, value)
        return SourceRead(_parsed(reader.csv(location), view, src.timestamp_format), location, None)
    except SparkfsError:
        raise
    except Exception as exc:  # Spark raises AnalysisException / Py4J errors
        error = source_error(spark, view, location, exc)
        assert error is not None
        raise error from exc


def _parsed(df: DataFrame, view: FeatureView, fmt: str | None) -> DataFrame:
    """A CSV source's time columns parsed with the declared ``timestamp_format`` (the event
    and created columns, and features declared ``timestamp``, where the CSV has them as text)."""
    if fmt is None:
        return df
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    wanted = {view.timestamp_column, view.created_timestamp_column,
              *(f.name for f in view.features if f.type == "timestamp")}
    for field in df.schema.fields:
        if field.name in wanted and isinstance(field.dataType, T.StringType):
            df = df.withColumn(field.name, F.to_timestamp(F.col(f"`{field.name}`"), fmt))
    return df


def _nanos(failure: SparkFailure) -> bool:
    return failure.has_condition("PARQUET_TYPE_ILLEGAL") and "NANOS" in failure.parameters.get("parquetType", "")


#: (does the failure have this cause, what it means and what to do); the first match wins.
_CAUSES: list[tuple[Callable[[SparkFailure], bool], str]] = [
    (lambda f: f.has_condition("PATH_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE", "DELTA_TABLE_NOT_FOUND",
                               "DELTA_PATH_DOES_NOT_EXIST", "FILE_NOT_EXIST")
     or f.has_class("FileNotFoundException"),
     "does not exist or is not a {type} source; generate the data (e.g. `sparkfs demo generate`), "
     "fix the path, or fix the source type"),
    (lambda f: f.has_condition("TABLE_OR_VIEW_NOT_FOUND"),
     "is not a table of the metastore; create it, or name it as the catalog knows it (db.table)"),
    (lambda f: f.has_condition("DELTA_VERSION_NOT_FOUND", "DELTA_CANNOT_TIME_TRAVEL_VERSION")
     or f.has_class("VersionNotFoundException"),
     "has no such Delta version ({first}); pin an existing version or remove `version:` to read "
     "the latest"),
    (_nanos,
     "holds nanosecond timestamps{nanos}, which Spark reads only with "
     f"{NANOS_AS_LONG}=true: set it under spark.conf in sparkfs.yaml (sparkfs sessions set it by "
     "default; sparkfs then reads such columns to the microsecond), or write the file with "
     "df.to_parquet(path, coerce_timestamps='us')"),
    (lambda f: f.has_condition("CANNOT_PARSE_TIMESTAMP", "PARSE_DATETIME_BY_NEW_PARSER", "DATETIME_FIELD_OUT_OF_BOUNDS")
     or f.has_class("SparkDateTimeException"),
     "has a timestamp that does not match the declared timestamp_format ({first}); fix the value "
     "or the source's timestamp_format (a Spark datetime pattern)"),
    (lambda f: f.has_condition("CANNOT_READ_FILE_FOOTER", "FAILED_READ_FILE", "MALFORMED_RECORD_IN_PARSING",
                               "CANNOT_READ_PARQUET_FILE", "PARQUET_COLUMN_DATA_TYPE_MISMATCH"),
     "cannot be read as {type} ({first}); check that the files are {type} and not damaged, or "
     "declare the source type they have"),
]


def source_error(
    spark: SparkSession, view: FeatureView, location: str, exc: Exception, *, known_only: bool = False
) -> SparkfsError | None:
    """One paragraph for a source Spark could not read: the view, the path, the cause and the
    fix. Unknown causes keep Spark's first line with advice to check the source, or give
    ``None`` with ``known_only`` (a failure while computing may be the transformation's)."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    source_type = view.source.type
    failure = SparkFailure.of(exc)
    for matches, advice in _CAUSES:
        if matches(failure):
            nanos = _nanos_where(spark, location) if matches is _nanos else ""
            message = advice.format(type=source_type, first=first, nanos=nanos)
            missing = advice.startswith(("does not", "is not a table", "has no such"))
            error = NotFoundError if missing else SchemaMismatchError
            return error(f"feature view {view.name!r}: source {location} {message}")
    if known_only:
        return None
    return SchemaMismatchError(
        f"feature view {view.name!r}: source {location} ({source_type}) cannot be read: {first}; "
        "check the path, the source type and its options"
    )


def _nanos_where(spark: SparkSession, location: str) -> str:
    try:
        files = parquet_files(spark, location, limit=20)
        for file in files:
            columns = nanos_columns(spark, file)
            if columns:
                return f" (file {file}, column(s) {', '.join(columns)})"
    except Exception:  # naming the file is a courtesy; the advice stands without it
        return ""
    return ""


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
