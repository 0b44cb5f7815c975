"""Resolve Delta's jars ahead of time so that later runs work offline and start faster.

``python -m sparkfs.jars coordinate`` prints the Maven coordinate; ``check`` exits 0 when the
jars are resolved (their list recorded and every listed file present); ``warm`` runs a tiny local
Spark+Delta job that resolves them through Spark's Ivy and records the list of resolved jar
files, so that sessions sparkfs builds afterwards name the files (``spark.jars``) instead of
asking Ivy again at every start (~2-3 s and ~90 lines of resolution report on stderr).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyspark
from delta.pip_utils import configure_spark_with_delta_pip

from sparkfs.spark_conf import BASE_SPARK_CONF

__all__ = ["delta_coordinate", "record_resolved_jars", "resolved_jars"]


def delta_coordinate() -> str:
    from importlib.metadata import version

    major_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{major_minor}_2.13:{version('delta-spark')}"


def jar_list_path() -> Path:
    """Where ``warm`` records the resolved jars: ``$SPARKFS_CACHE_DIR`` (default
    ``~/.cache/sparkfs``), one file per Delta coordinate."""
    root = Path(os.environ.get("SPARKFS_CACHE_DIR") or Path.home() / ".cache" / "sparkfs")
    return root / (delta_coordinate().replace(":", "_") + ".jars")


def _local_file(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path) if parsed.scheme else uri)


def _missing(jars: list[str]) -> list[str]:
    """The entries that are not files on this machine."""
    return [j for j in jars if (f := _local_file(j)) is None or not f.is_file()]


def record_resolved_jars(spark_jars: str) -> list[str]:
    """Record the jar files Ivy resolved for Delta (``spark.jars`` of a session started with
    ``spark.jars.packages``). Written to a temporary file and renamed, so a reader never
    sees half a list. Raises ValueError, recording nothing, if the list has no Delta jar or
    names a file that is not on this machine."""
    jars = [j for j in spark_jars.split(",") if j]
    missing = _missing(jars)
    group, artifact, ver = delta_coordinate().split(":")
    if missing or not any(j.endswith(f"/{group}_{artifact}-{ver}.jar") for j in jars):
        raise ValueError(f"not a resolved Delta jar list (missing: {missing[:3]}): {spark_jars[:300]}")
    path = jar_list_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text("\n".join(jars) + "\n")
    tmp.replace(path)
    return jars


def resolved_jars() -> list[str] | None:
    """The recorded jar files for this Delta version, or None when there is no record or any
    of its files is gone (then sessions fall back to ``spark.jars.packages`` and Ivy)."""
    try:
        jars = [line for line in jar_list_path().read_text().splitlines() if line]
    except OSError:
        return None
    return jars if jars and not _missing(jars) else None


def _warm() -> None:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[1]").appName("sparkfs-jars")
    for key, value in {**BASE_SPARK_CONF, "spark.ui.enabled": "false"}.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            spark.range(1).write.format("delta").save(f"{tmp}/t")
        jars = record_resolved_jars(spark.sparkContext.getConf().get("spark.jars", ""))
        print(f"recorded {len(jars)} resolved jar(s) in {jar_list_path()}", file=sys.stderr)
    finally:
        spark.stop()


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "coordinate":
        print(delta_coordinate())
        return 0
    if cmd in ("check", "warm"):
        # the record lists Delta's jar and is only returned while every listed file exists
        if cmd == "warm":
            _warm()
        return 0 if resolved_jars() is not None else 1
    print(f"usage: python -m sparkfs.jars [coordinate|check|warm] (got {cmd!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
