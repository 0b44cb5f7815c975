"""Resolve Delta's jars ahead of time so that later runs work offline.

``python -m sparkfs.jars coordinate`` prints the Maven coordinate; ``check`` exits 0 when the
jar is already in the Ivy cache; ``warm`` runs a tiny local Spark+Delta job to fill the cache.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pyspark
from delta.pip_utils import configure_spark_with_delta_pip

__all__ = ["delta_coordinate", "ivy_has_delta"]


def delta_coordinate() -> str:
    from importlib.metadata import version

    major_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{major_minor}_2.13:{version('delta-spark')}"


def ivy_has_delta() -> bool:
    group, artifact, ver = delta_coordinate().split(":")
    name = f"{group}_{artifact}-{ver}.jar"
    return any((p / "jars" / name).is_file() for p in Path.home().glob(".ivy2*"))


def _warm() -> None:
    from pyspark.sql import SparkSession

    from sparkfs.session import BASE_SPARK_CONF

    builder = SparkSession.builder.master("local[1]").appName("sparkfs-jars")
    for key, value in {**BASE_SPARK_CONF, "spark.ui.enabled": "false"}.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    with tempfile.TemporaryDirectory() as tmp:
        spark.range(1).write.format("delta").save(f"{tmp}/t")
    spark.stop()


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "coordinate":
        print(delta_coordinate())
        return 0
    if cmd == "check":
        return 0 if ivy_has_delta() else 1
    if cmd == "warm":
        _warm()
        return 0 if ivy_has_delta() else 1
    print(f"usage: python -m sparkfs.jars [coordinate|check|warm] (got {cmd!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
