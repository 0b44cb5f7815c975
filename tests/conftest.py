"""Shared fixtures: one SparkSession per test session (Delta, UTC, few partitions), a real
redis-server on a free loopback port, and a registry URL on each backend (SQLite, and a real
PostgreSQL server started once per session)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from sparkfs.session import BASE_SPARK_CONF
from tests.postgres_server import PostgresServer
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (its own data directory and port; stopped after)."""
    with PostgresServer() as server:
        yield server


_databases = itertools.count(1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry_backend(request: pytest.FixtureRequest) -> str:
    """The registry's database: each test using it runs on SQLite and on PostgreSQL (a module
    whose tests are about something else pins it with its own ``registry_backend`` fixture)."""
    return str(request.param)


@pytest.fixture()
def registry_url(registry_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of an empty registry database: a SQLite file, or a new PostgreSQL database."""
    if registry_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"registry_{next(_databases)}"
    server.sql(f"CREATE DATABASE {name}")
    yield server.url("postgres", name)
    server.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
