"""Fixtures of the online-store suite: a session-wide 3-master Redis Cluster and a ``store``
fixture that runs a test against standalone Redis and (marked ``cluster``) the cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sparkfs.config import RedisClusterConfig, RedisConfig
from tests.redis_cluster import RedisClusterProcess
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcess]:
    with RedisClusterProcess(masters=3) as cluster:
        yield cluster


@pytest.fixture(params=["redis", pytest.param("cluster", marks=pytest.mark.cluster)])
def store(request: pytest.FixtureRequest) -> RedisConfig | RedisClusterConfig:
    """A flushed online store config: standalone redis-server, then the 3-node cluster."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.client().flushall()
        return RedisConfig(url=server.url, retry_backoff_s=0.05)
    cluster: RedisClusterProcess = request.getfixturevalue("redis_cluster")
    cluster.flushall()
    return RedisClusterConfig(type="redis_cluster", nodes=cluster.nodes[:1], retry_backoff_s=0.05)
