"""Describing what a run read and wrote as :class:`~sparkfs.lineage.record.DatasetRef`.

Delta datasets are identified by their version. Parquet and CSV sources have none, so their
files are listed with sizes and modification times (metadata from the file system, read on
the driver: no data is read), capped at :data:`MAX_FILES` with a digest of the full listing so
two reads of the same files compare equal.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sparkfs.lineage.record import DatasetRef, generation_name

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "MAX_FILES",
    "offline_table_dataset",
    "online_generation_dataset",
    "schema_facet",
    "source_dataset",
    "training_set_dataset",
]

#: Files listed per input; the digest covers all of them.
MAX_FILES = 200


def schema_facet(schema: StructType) -> list[dict[str, str]]:
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in schema.fields]


def source_dataset(spark: SparkSession, location: str, fmt: str, df: DataFrame,
                   delta_version: int | None) -> DatasetRef:
    """A source as read: its format and schema, and its Delta version or its files."""
    facets: dict[str, Any] = {"format": fmt, "schema": schema_facet(df.schema)}
    if fmt not in ("delta", "table"):
        facets.update(_files(spark, df))
    return DatasetRef("source", location, None if delta_version is None else str(delta_version), facets)


def offline_table_dataset(path: str, version: int, schema: StructType | None = None, *,
                          feature_view: str | None = None) -> DatasetRef:
    facets: dict[str, Any] = {"format": "delta"}
    if schema is not None:
        facets["schema"] = schema_facet(schema)
    if feature_view is not None:
        facets["feature_view"] = feature_view
    return DatasetRef("offline_table", path, str(version), facets)


def online_generation_dataset(namespace: str, view: str, generation: int, *, delta_version: int,
                              features: list[tuple[str, str]]) -> DatasetRef:
    return DatasetRef("online_generation", generation_name(namespace, view), str(generation), {
        "format": "redis", "feature_view": view, "key_namespace": namespace,
        "delta_version": delta_version, "schema": [{"name": n, "type": t} for n, t in features]})


def training_set_dataset(training_set_id: str, path: str, fmt: str, schema: StructType | None = None,
                         *, feature_service: str | None = None, features: list[str] | None = None) -> DatasetRef:
    facets: dict[str, Any] = {"format": fmt, "path": path, "feature_service": feature_service,
                              "features": list(features or [])}
    if schema is not None:
        facets["schema"] = schema_facet(schema)
    return DatasetRef("training_set", training_set_id, None, facets)


def _files(spark: SparkSession, df: DataFrame) -> dict[str, Any]:
    """The files a file source's frame reads, with sizes and modification times."""
    try:
        names = sorted(df.inputFiles())
        jvm: Any = spark._jvm
        conf = spark._jsc.hadoopConfiguration()
        listed = []
        for name in names:
            path = jvm.org.apache.hadoop.fs.Path(name)
            status = path.getFileSystem(conf).getFileStatus(path)
            listed.append({"path": name, "size": int(status.getLen()),
                           "modified_ms": int(status.getModificationTime())})
    except Exception as exc:  # a description, never a reason to fail the run
        return {"files_error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"}
    digest = hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()
    return {"files": listed[:MAX_FILES], "file_count": len(listed),
            "total_bytes": sum(f["size"] for f in listed), "files_sha256": digest}
