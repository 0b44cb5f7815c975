"""A sync that fails, loses Redis or is killed, then reruns, ends exactly like a clean run."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.config import RedisConfig
from sparkfs.errors import OnlineStoreError
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.sync import sync_feature_view
from tests.online.oracle import all_keys, dump, latest_oracle
from tests.online.test_sync import VIEW, make_rows, write
from tests.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]


def clean_run(spark: SparkSession, path: str, server: RedisServer, now: datetime) -> RedisConfig:
    """The reference: the same sync into an empty database of the same server."""
    clean = RedisConfig(url=server.url.rsplit("/", 1)[0] + "/1")
    sync_feature_view(spark, table_path=path, view=VIEW, online=clean,
                      checkpoints=InMemoryCheckpointStore(), now=now)
    return clean


def assert_same_as(online: RedisConfig, clean: RedisConfig) -> None:
    assert dump(online, VIEW) == dump(clean, VIEW)
    assert len(all_keys(online)) == len(all_keys(clean))  # no leftover generation


def fail_writes_after(server: RedisServer, keys: int) -> None:
    """Once the database holds ``keys`` keys, make every write fail (maxmemory 1 byte)."""

    def watch() -> None:
        client = server.client()
        deadline = time.monotonic() + 300
        while client.dbsize() < keys and time.monotonic() < deadline:
            time.sleep(0.002)
        client.config_set("maxmemory", 1)

    threading.Thread(target=watch, daemon=True).start()


def test_failure_mid_batch_then_rerun_converges(spark: SparkSession, tmp_path: Path) -> None:
    rng, now = random.Random(11), datetime.now(UTC)
    path = str(tmp_path / "t")
    rows = make_rows(rng, now, 1500, 600)
    write(spark, path, rows)
    with RedisServer() as server:
        online = RedisConfig(url=server.url, batch_size=20, retry_backoff_s=0.01)
        cps, client = InMemoryCheckpointStore(), server.client()
        fail_writes_after(server, 100)  # OOM errors part-way through
        with pytest.raises(OnlineStoreError, match="rejected a write"):
            sync_feature_view(spark, table_path=path, view=VIEW, online=online, checkpoints=cps,
                              now=now)
        assert cps.get(VIEW.name) is None
        assert client.dbsize() > 1  # it did write part of a generation
        assert dump(online, VIEW) == {}  # ... that no reader can see
        client.config_set("maxmemory", 0)
        result = sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                                   checkpoints=cps, now=now)
        assert result.keys_collected > 0  # the half-written generation was removed

        more = make_rows(rng, now, 300, 700)
        write(spark, path, more)
        client.config_set("maxmemory", 1)
        with pytest.raises(OnlineStoreError):
            sync_feature_view(spark, table_path=path, view=VIEW, online=online, checkpoints=cps,
                              now=now)
        assert cps.get(VIEW.name).delta_version == 0  # type: ignore[union-attr]
        client.config_set("maxmemory", 0)
        assert sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                                 checkpoints=cps, now=now).mode == "incremental"
        assert dump(online, VIEW) == latest_oracle(rows + more, VIEW, now)
        assert_same_as(online, clean_run(spark, path, server, now))


def test_redis_restart_mid_sync_recovers(spark: SparkSession, tmp_path: Path) -> None:
    """Redis restarts (losing everything) while a sync writes: the sync still converges. The
    restart must land before the sync publishes; on a loaded machine the watcher can miss that
    moment (Redis is then empty, generation pointer included), so the scenario is tried again,
    up to 5 times, until a restart lands mid-sync."""
    rng, now = random.Random(5), datetime.now(UTC)
    path = str(tmp_path / "t")
    rows = make_rows(rng, now, 4000, 3000)
    write(spark, path, rows)
    for _attempt in range(5):
        with RedisServer() as server:
            online = RedisConfig(url=server.url, batch_size=10, max_retries=8, retry_backoff_s=0.1,
                                 socket_timeout_s=1.0)
            restarted, sync_done = threading.Event(), threading.Event()

            def restart_when_half_written(server: RedisServer = server, restarted: threading.Event = restarted,
                                          sync_done: threading.Event = sync_done) -> None:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and not sync_done.is_set():
                    try:
                        if server.client().dbsize() > 200 and not sync_done.is_set():
                            server.stop()  # no persistence: everything written so far is lost
                            server.start()
                            restarted.set()
                            return
                    except Exception:
                        pass
                    time.sleep(0.01)

            watcher = threading.Thread(target=restart_when_half_written)
            watcher.start()
            try:
                result = sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                                           checkpoints=InMemoryCheckpointStore(), now=now)
            finally:
                sync_done.set()
                watcher.join()
            if not restarted.is_set() or server.client().dbsize() == 0:
                # the restart missed the sync: it came before any write, or after the sync had
                # published (an empty Redis, pointer included, is a restart after the last write)
                continue
            assert result.mode == "full"
            assert dump(online, VIEW) == latest_oracle(rows, VIEW, now)
            assert_same_as(online, clean_run(spark, path, server, now))
            return
    pytest.fail("Redis was never restarted while the sync was writing (5 attempts)")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def kill_tree(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the driver and every process under it, executors' Python workers included: the
    PySpark daemon moves itself into its own process group, so killing the child's group alone
    leaves workers that keep writing for a while and race the rerun."""
    tree = _descendants(child.pid)
    os.killpg(child.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in tree):
        assert time.monotonic() < deadline, "killed processes did not exit"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.slow
def test_killed_sync_process_rerun_converges(spark: SparkSession, tmp_path: Path) -> None:
    rng, now = random.Random(9), datetime.now(UTC)
    path = str(tmp_path / "t")
    rows = make_rows(rng, now, 4000, 3000)
    write(spark, path, rows)
    with RedisServer() as server:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.online.sync_child", path, server.url, now.isoformat(),
             "2"],
            cwd=REPO, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 400
            while server.client().dbsize() < 200 and child.poll() is None:
                assert time.monotonic() < deadline, "the child sync never started writing"
                time.sleep(0.01)
            assert child.poll() is None, "the child finished before it could be killed"
        finally:
            kill_tree(child)
        online = RedisConfig(url=server.url)
        assert dump(online, VIEW) == {}  # the killed refresh was never published
        # the dead child's lease (2 s) runs out by itself; the rerun waits for that
        sync_feature_view(spark, table_path=path, view=VIEW, online=online,
                          checkpoints=InMemoryCheckpointStore(), now=now, wait_s=30)
        assert dump(online, VIEW) == latest_oracle(rows, VIEW, now)
        assert_same_as(online, clean_run(spark, path, server, now))
