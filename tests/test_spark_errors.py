"""Failures are classified by error class and exception type, never by message text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.errors import OnlineStoreError
from sparkfs.offline.table import _is_conflict
from sparkfs.online.sync import _cdf_unavailable
from sparkfs.spark_errors import SparkFailure


def test_a_message_that_only_mentions_a_cause_is_not_that_cause() -> None:
    lookalike = ValueError("ConcurrentAppendException: PATH_NOT_FOUND VersionNotFound vacuum not exist")
    failure = SparkFailure.of(lookalike)
    assert not failure.conditions
    assert not _is_conflict(lookalike)
    assert not _cdf_unavailable(lookalike)
    assert not _cdf_unavailable(OnlineStoreError("redis down"))


def test_spark_s_error_class_and_parameters_come_through_the_chain(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(Exception) as info:
        spark.read.parquet(str(tmp_path / "missing")).count()
    wrapped = RuntimeError("while reading")
    wrapped.__cause__ = info.value
    failure = SparkFailure.of(wrapped)
    assert failure.has_condition("PATH_NOT_FOUND") and failure.has_class("AnalysisException")
    assert failure.parameters["path"].endswith("missing")
    spark.range(1).write.format("delta").save(str(tmp_path / "t"))
    with pytest.raises(Exception) as info:
        spark.read.format("delta").option("versionAsOf", 7).load(str(tmp_path / "t")).count()
    failure = SparkFailure.of(info.value)
    assert failure.has_condition("DELTA_VERSION_NOT_FOUND") and failure.has_class("VersionNotFoundException")
    assert _cdf_unavailable(info.value)
