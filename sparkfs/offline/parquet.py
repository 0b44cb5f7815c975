"""Parquet sources as people write them: nanosecond timestamps.

pandas writes ``datetime64[ns]`` columns as Parquet ``TIMESTAMP(NANOS)`` by default, a type
Spark refuses (``PARQUET_TYPE_ILLEGAL``) unless ``spark.sql.legacy.parquet.nanosAsLong`` is on,
in which case it reads them as ``bigint`` nanoseconds. sparkfs sessions turn it on
(``BASE_SPARK_CONF``), and :func:`read_parquet` turns such columns back into timestamps,
truncated to the microsecond (Spark's precision). Which ``bigint`` columns were nanosecond
timestamps only the file footer says: the footer of the first data file is read on the driver
(through Hadoop, so any file system Spark reads works). A naive (``isAdjustedToUTC=false``)
column is taken as UTC, as sparkfs takes every wall clock. Only top-level columns are converted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql import types as T

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["NANOS_AS_LONG", "nanos_columns", "parquet_files", "read_parquet"]

#: The Spark setting that makes nanosecond Parquet timestamps readable (as bigint).
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def parquet_files(spark: SparkSession, location: str, limit: int = 1) -> list[str]:
    """Up to ``limit`` data files under ``location`` (a file or a directory tree)."""
    jvm: Any = spark._jvm  # Hadoop and parquet-mr have no Python API
    conf = spark._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(conf)
    if not fs.exists(path):
        return []
    found: list[str] = []
    files = fs.listFiles(path, True)
    while files.hasNext() and len(found) < limit:
        name = files.next().getPath()
        if not name.getName().startswith(("_", ".")):
            found.append(name.toString())
    return found


def nanos_columns(spark: SparkSession, file: str) -> list[str]:
    """Top-level columns of one Parquet file stored as ``TIMESTAMP(NANOS, ...)``."""
    jvm: Any = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    hadoop_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
        jvm.org.apache.hadoop.fs.Path(file), conf)
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(hadoop_file)
    try:
        schema = reader.getFooter().getFileMetaData().getSchema()
    finally:
        reader.close()
    out = []
    for field in schema.getFields():
        logical = field.getLogicalTypeAnnotation() if field.isPrimitive() else None
        if logical is not None and logical.toString().startswith("TIMESTAMP(NANOS"):
            out.append(str(field.getName()))
    return out


def _micros(name: str) -> Any:
    quoted = "`" + name.replace("`", "``") + "`"
    # floor division, exact on longs (a double division would round nanoseconds)
    return F.expr(f"timestamp_micros(({quoted} - pmod({quoted}, 1000)) div 1000)")


def read_parquet(spark: SparkSession, location: str) -> DataFrame:
    """Read a Parquet source, nanosecond timestamps as (microsecond) timestamps."""
    df = spark.read.parquet(location)
    longs = {f.name for f in df.schema.fields if isinstance(f.dataType, T.LongType)}
    if not longs or str(spark.conf.get(NANOS_AS_LONG, "false")).lower() != "true":
        return df
    files = df.inputFiles()[:1]
    nanos = [c for c in nanos_columns(spark, files[0]) if c in longs] if files else []
    for name in nanos:
        df = df.withColumn(name, _micros(name))
    return df
