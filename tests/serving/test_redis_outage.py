"""Redis stopped and restarted under a request loop: bounded 503s, then recovery, no restart."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer
from tests.serving.conftest import app_client, open_project, seed

pytestmark = pytest.mark.anyio
BODY = {"features": ["users:age", "clicks:clicks"], "entities": {"user_id": [1, 2]}}


@pytest.fixture()
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def test_503_while_redis_is_down_then_recovery(tmp_path: Path,
                                                     own_redis: RedisServer) -> None:
    project = open_project(tmp_path, own_redis.url)
    seed(project)
    async with app_client(project.config, project.workspace) as client:
        assert (await client.post("/v1/features:lookup", json=BODY)).status_code == 200
        own_redis.stop()
        for _ in range(5):
            started = time.monotonic()
            resp = await client.post("/v1/features:lookup", json=BODY)
            elapsed = time.monotonic() - started
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["type"] == "OnlineStoreError"
            assert elapsed < 2 * 0.5 + 0.5  # bounded by serving.redis_timeout_s
            feast = await client.post("/get-online-features", json=BODY)
            assert feast.status_code == 503
            assert json.loads(feast.json())["class"] == "FeastError"  # Feast's error shape
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "error" in ready.json()
        assert (await client.get("/healthz")).status_code == 200
        own_redis.start()  # same port, empty (no persistence)
        seed(project)
        statuses = []
        for _ in range(20):
            resp = await client.post("/v1/features:lookup", json=BODY)
            statuses.append(resp.status_code)
            if resp.status_code == 200:
                break
        assert statuses[-1] == 200, statuses
        row = resp.json()["rows"][0]["features"]
        assert row["users:age"] == {**row["users:age"], "value": 31, "status": "PRESENT"}
        assert (await client.get("/readyz")).status_code == 200
        text = (await client.get("/metrics")).text
        errors = float(re.search(r"^sparkfs_redis_errors_total (\S+)$", text, re.M)[1])
        assert errors >= 10


async def test_a_hung_redis_answers_503_within_the_timeout(tmp_path: Path,
                                                           own_redis: RedisServer) -> None:
    """SIGSTOP leaves the socket open and silent: the socket timeout must bound the wait."""
    import os
    import signal

    project = open_project(tmp_path, own_redis.url)
    seed(project)
    async with app_client(project.config, project.workspace) as client:
        assert (await client.post("/v1/features:lookup", json=BODY)).status_code == 200
        assert own_redis.proc is not None
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            resp = await client.post("/v1/features:lookup", json=BODY)
            assert resp.status_code == 503
            assert time.monotonic() - started < 2.0
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        for _ in range(20):
            resp = await client.post("/v1/features:lookup", json=BODY)
            if resp.status_code == 200:
                break
        assert resp.status_code == 200
