"""One sync per view at a time: a second sync while one runs refuses (naming the holder) or
waits; a dead holder's lease expires; nothing is corrupted. Two real processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.config import RedisConfig
from sparkfs.errors import OnlineStoreError, WriteConflictError
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.lease import SyncLease, lease_key
from sparkfs.online.sync import sync_feature_view
from tests.online.oracle import dump, latest_oracle
from tests.online.test_sync import VIEW, make_rows, write
from tests.online.test_sync_recovery import REPO
from tests.redis_server import RedisServer


def test_the_lease_refuses_a_second_holder_and_expires_when_its_holder_stops_renewing(
        redis_url: str) -> None:
    online = RedisConfig(url=redis_url, sync_lease_s=1)
    with SyncLease(online, "v") as first:
        with pytest.raises(WriteConflictError, match=rf"another sync of 'v' is running: process "
                                                     rf"{os.getpid()} on .*lease ends"):
            SyncLease(online, "v").__enter__()
        time.sleep(1.5)  # the heartbeat keeps it past its 1 s lease
        first.check("publishing")
        with pytest.raises(WriteConflictError):
            SyncLease(online, "v", wait_s=0.3).__enter__()
    with SyncLease(online, "v"):  # released at exit: taken at once
        pass
    # a holder that died: its key stays only until the lease ends
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set(lease_key("sfs", "v"), b"deadhost:1:0:tok", px=800)
    started = time.monotonic()
    with SyncLease(online, "v", wait_s=10):
        assert 0.3 < time.monotonic() - started < 5
    # a lease taken over by someone else is noticed before anything is published
    with SyncLease(online, "v") as mine:
        client.set(lease_key("sfs", "v"), b"other")
        with pytest.raises(WriteConflictError, match="lost its lease before publishing"):
            mine.check("publishing")


def test_a_redis_restart_during_the_lease_is_retried_and_the_lost_lease_taken_again() -> None:
    """Redis down while a sync checks its lease (the restart of a server without persistence):
    the check retries like every other step, and takes the vanished lease again. Down for
    longer than the retries: a clear error naming the node and the step."""
    with RedisServer() as server:
        online = RedisConfig(url=server.url, max_retries=6, retry_backoff_s=0.05)
        with SyncLease(online, "v") as lease:
            server.stop()
            restarter = threading.Timer(0.4, server.start)
            restarter.start()
            lease.check("publishing generation 1")  # retried through the restart
            restarter.join()
            assert server.client().get(lease_key("sfs", "v")) == lease.token.encode()
            server.stop()
            with pytest.raises(OnlineStoreError, match=r"Redis 127\.0\.0\.1:\d+: checking the sync "
                               r"lease of 'v' before publishing failed after 7 attempts"):
                lease.check("publishing")
            server.start()
        server.stop()
        with pytest.raises(OnlineStoreError, match="taking the sync lease of 'v' failed after"):
            SyncLease(online, "v").__enter__()
        server.start()
        # a retried take whose first SET landed (the reply was lost) finds its own token
        retried = SyncLease(online, "v")
        server.client().set(lease_key("sfs", "v"), retried.token, px=5000)
        with retried:
            retried.check("publishing")


@pytest.mark.slow
def test_an_overlapping_sync_from_another_process_refuses_then_waits(
        spark: SparkSession, tmp_path: Path) -> None:
    rng, now = random.Random(4), datetime.now(UTC)
    path = str(tmp_path / "t")
    rows = make_rows(rng, now, 4000, 3000)
    write(spark, path, rows)
    with RedisServer() as server:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.online.sync_child", path, server.url, now.isoformat(),
             "3"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        online = RedisConfig(url=server.url)
        try:
            deadline = time.monotonic() + 400
            while server.client().dbsize() < 100 and child.poll() is None:
                assert time.monotonic() < deadline, "the child sync never started writing"
                time.sleep(0.01)
            assert child.poll() is None, "the child finished before the overlap"
            with pytest.raises(WriteConflictError, match=f"process {child.pid} on"):
                sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                                  checkpoints=InMemoryCheckpointStore(), now=now)
            assert child.poll() is None  # the refused sync did not disturb the running one
            result = sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                                       checkpoints=InMemoryCheckpointStore(), now=now,
                                       wait_s=400, retire_grace_s=0)
            assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
        finally:
            child.kill()
        assert result.mode == "full"
        assert dump(online, VIEW) == latest_oracle(rows, VIEW, now)
        assert server.client().exists(lease_key("sfs", VIEW.name)) == 0
