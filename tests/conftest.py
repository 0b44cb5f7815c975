"""Shared fixtures: one SparkSession per test session (Delta, UTC, few partitions) and a real
redis-server on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from sparkfs.session import BASE_SPARK_CONF
from tests.redis_server import RedisServer

REPO_ROOT = Path(__file__).resolve().parent.parent

TEST_SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "true",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-tests")
    for key, value in {**BASE_SPARK_CONF, **TEST_SPARK_CONF}.items():
        builder = builder.config(key, value)
    session = configure_spark_with_delta_pip(builder).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    """A flushed database on the session's redis-server."""
    redis_server.client().flushall()
    return redis_server.url
