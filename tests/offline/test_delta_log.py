"""The table version read from Delta's log handle agrees with the history query, follows
commits made by another writer, and keeps Delta's error for a path without a table."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from sparkfs.delta_log import _from_log, latest_version


def _history_version(spark: SparkSession, path: str) -> int:
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    assert row is not None
    return int(row["version"])


def test_latest_version_follows_every_commit(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    assert _from_log(spark, path) == 0  # the fast path answers, not the fallback
    for expected in (1, 2, 3):
        # written through a separate handle: the log handle must notice the new commit
        spark.range(expected).write.format("delta").mode("append").save(path)
        assert latest_version(spark, path) == _history_version(spark, path) == expected
    DeltaTable.forPath(spark, path).delete("id = 0")
    assert latest_version(spark, path) == _history_version(spark, path) == 4


def test_a_path_without_a_table_keeps_deltas_error(spark: SparkSession, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert _from_log(spark, str(empty)) is None
    with pytest.raises(Exception, match=r"(?i)not a Delta table"):
        latest_version(spark, str(empty))
