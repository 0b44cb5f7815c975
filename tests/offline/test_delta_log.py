"""The table version read from Delta's log handle agrees with the history query, follows
commits made by another writer, and keeps Delta's error for a path without a table. The change
feed read through Delta's reader directly is row for row the public reader's, and the public
reader answers whenever the direct read cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession

from sparkfs.delta_log import (
    _change_feed_direct,
    _from_log,
    _public_change_feed,
    change_feed,
    latest_version,
)


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


# --- change feed -------------------------------------------------------------------------------

_SCHEMA = "id long, day string, v long"
_FEED_COLUMNS = ["id", "day", "v", "_change_type", "_commit_version", "_commit_timestamp"]

_op = st.one_of(
    st.tuples(st.just("append"), st.lists(st.tuples(st.integers(0, 20), st.sampled_from("ab"),
                                                    st.integers(0, 9)), min_size=1, max_size=8)),
    st.tuples(st.just("update"), st.integers(0, 9)),  # rewrites files: change files written
    st.tuples(st.just("delete"), st.integers(0, 9)),  # part of a file: change files written
    st.tuples(st.just("drop_day"), st.sampled_from("ab")),  # whole files removed, no change files
    st.tuples(st.just("replace_day"), st.sampled_from("ab"), st.integers(0, 9)),
)


def _apply(spark: SparkSession, path: str, op: tuple) -> None:
    kind = op[0]
    if kind == "append":
        spark.createDataFrame(op[1], _SCHEMA).write.format("delta").mode("append").save(path)
    elif kind == "update":
        DeltaTable.forPath(spark, path).update(f"v = {op[1]}", {"v": "v + 100"})
    elif kind == "delete":
        DeltaTable.forPath(spark, path).delete(f"v % 10 = {op[1]}")
    elif kind == "drop_day":
        DeltaTable.forPath(spark, path).delete(f"day = '{op[1]}'")
    else:
        rows = [(i, op[1], op[2]) for i in range(3)]
        (spark.createDataFrame(rows, _SCHEMA).write.format("delta").mode("overwrite")
         .option("replaceWhere", f"day = '{op[1]}'").save(path))


def _rows(df: DataFrame) -> list[tuple]:
    return sorted((tuple(r) for r in df.select(*_FEED_COLUMNS).collect()), key=repr)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=1, max_size=4), data=st.data())
def test_change_feed_reads_what_deltas_public_reader_reads(
        spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, ops: list, data: st.DataObject
) -> None:
    path = str(tmp_path_factory.mktemp("feed") / "t")
    (spark.createDataFrame([(0, "a", 1), (1, "b", 2)], _SCHEMA).write.format("delta")
     .partitionBy("day").option("delta.enableChangeDataFeed", "true").save(path))
    for op in ops:
        _apply(spark, path, op)
    end = latest_version(spark, path)
    start = data.draw(st.integers(0, end), label="start")
    stop = data.draw(st.integers(start, end), label="end")
    direct = _change_feed_direct(spark, path, start, stop)
    assert direct is not None  # the fast path answered
    assert _rows(direct) == _rows(_public_change_feed(spark, path, start, stop))
    assert _rows(change_feed(spark, path, 0, end)) == _rows(_public_change_feed(spark, path, 0, end))


def test_change_feed_falls_back_to_the_public_reader(spark: SparkSession, tmp_path: Path) -> None:
    # no change feed on the table: Delta's own error, from the public reader
    plain = str(tmp_path / "plain")
    spark.range(3).write.format("delta").save(plain)
    spark.range(3).write.format("delta").mode("append").save(plain)
    assert _change_feed_direct(spark, plain, 1, 1) is None
    assert _change_feed_direct(spark, plain, 1, 0) is None  # a reversed range
    with pytest.raises(Exception, match=r"(?i)change data feed|CHANGE_DATA") as public:
        _public_change_feed(spark, plain, 1, 1).collect()
    with pytest.raises(type(public.value), match=r"(?i)change data feed|CHANGE_DATA"):
        change_feed(spark, plain, 1, 1).collect()

    # the range's first commit is gone from the log (cleaned up after a checkpoint): Delta's
    # reader would skip it silently, so the public reader decides
    path = str(tmp_path / "t")
    for i in range(3):
        (spark.createDataFrame([(i, "a", i)], _SCHEMA).write.format("delta").mode("append")
         .option("delta.enableChangeDataFeed", "true").save(path))
    DeltaTable.forPath(spark, path).optimize().executeCompaction()  # version 3
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path).checkpoint()
    for version in (0, 1):  # log cleanup removes the oldest commits first
        (Path(path) / "_delta_log" / f"{version:020d}.json").unlink()
    assert _change_feed_direct(spark, path, 1, 3) is None
    try:
        expected: object = _rows(_public_change_feed(spark, path, 1, 3))
    except Exception as exc:  # whatever Delta does, change_feed does the same
        expected = type(exc)
    try:
        got: object = _rows(change_feed(spark, path, 1, 3))
    except Exception as exc:
        got = type(exc)
    assert got == expected
    (spark.createDataFrame([(9, "b", 9)], _SCHEMA).write.format("delta").mode("append")
     .save(path))  # version 4, after the checkpoint: read directly again
    direct = _change_feed_direct(spark, path, 4, 4)
    assert direct is not None
    assert _rows(direct) == _rows(_public_change_feed(spark, path, 4, 4)) != []
