from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.errors import OnlineStoreError
from sparkfs.online.layout import ValueCodec
from sparkfs.online.topology import make_client
from sparkfs.online.view import Field, OnlineView
from sparkfs.online.writer import BulkWriter, WriteMode
from tests.redis_server import RedisServer

VIEW = OnlineView("w", "abcdef012345", (Field("id", "int64"),), (Field("x", "float64"),),
                  timedelta(hours=1))
CODEC = ValueCodec(VIEW)
HOUR_MS = 3_600_000
_prefixes = itertools.count()


def now_ms() -> int:
    return int(time.time() * 1000)


def value(ev_ms: int, ing: int, x: float) -> bytes:
    return CODEC.encode(ev_ms * 1000, ing, [x])


def stored(client: redis.Redis, key: bytes) -> tuple[int, int, float] | None:
    raw = client.get(key)
    if raw is None:
        return None
    ev, ing, (x,) = CODEC.decode(raw)
    return ev // 1000, ing, x


WRITES = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 3),
                            st.floats(-1e6, 1e6)), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=WRITES, batch=st.integers(1, 7))
def test_script_keeps_the_newest_event_time(store: RedisConfig | RedisClusterConfig,
                                            writes: list[tuple[int, int, int, float]],
                                            batch: int) -> None:
    base = now_ms() - 60_000
    prefix = b"t%d:" % next(_prefixes)
    writer = BulkWriter(store, now_ms=now_ms(), ttl_ms=HOUR_MS)
    expected: dict[bytes, tuple[int, int, float]] = {}
    for start in range(0, len(writes), batch):
        chunk = writes[start : start + batch]
        keys = [prefix + bytes([k]) for k, *_ in chunk]
        vals = [value(base + ev, ing, x) for _, ev, ing, x in chunk]
        writer.write(WriteMode.CONDITIONAL, keys, vals)
        for key, (_, ev, ing, x) in zip(keys, chunk, strict=True):
            old = expected.get(key)
            if old is None or (base + ev, ing) >= old[:2]:
                expected[key] = (base + ev, ing, x)
    writer.close()
    client = make_client(store)
    assert {k: stored(client, k) for k in expected} == expected


def test_older_write_is_rejected_and_expiry_follows_the_event_time(
        store: RedisConfig | RedisClusterConfig) -> None:
    now = now_ms()
    writer = BulkWriter(store, now_ms=now, ttl_ms=HOUR_MS)
    client = make_client(store)
    counts = writer.write(WriteMode.CONDITIONAL, [b"k"], [value(now - 1000, 1, 1.0)])
    assert counts.written == 1
    assert writer.write(WriteMode.CONDITIONAL, [b"k"], [value(now - 5000, 9, 2.0)]).written == 0
    assert stored(client, b"k") == (now - 1000, 1, 1.0)
    assert client.pexpiretime(b"k") == now - 1000 + HOUR_MS
    # equal event time, later ingestion wins (the offline tie rule)
    writer.write(WriteMode.CONDITIONAL, [b"k"], [value(now - 1000, 2, 3.0)])
    assert stored(client, b"k") == (now - 1000, 2, 3.0)
    # a value already outside its ttl is never written
    assert writer.write(WriteMode.CONDITIONAL, [b"old"],
                        [value(now - HOUR_MS - 1, 1, 1.0)]).written == 0
    assert client.exists(b"old") == 0
    # force ignores the event time (offline delete); delete removes
    writer.write(WriteMode.FORCE, [b"k"], [value(now - 9000, 1, 4.0)])
    assert stored(client, b"k") == (now - 9000, 1, 4.0)
    assert writer.write(WriteMode.DELETE, [b"k"]).deleted == 1
    assert client.exists(b"k") == 0
    writer.close()


def test_short_ttl_expires_keys(store: RedisConfig | RedisClusterConfig) -> None:
    # the ttl is long enough that a slow machine (or a cluster client's slot discovery)
    # still reads it before it runs out; expiry is then waited for, not assumed after a sleep
    ttl = 2000
    now = now_ms()
    writer = BulkWriter(store, now_ms=now, ttl_ms=ttl)
    writer.write(WriteMode.FRESH, [b"a", b"b"], [value(now, 1, 1.0), value(now - 3000, 1, 1.0)],
                 [now + ttl, now + ttl - 3000])
    writer.close()
    client = make_client(store)
    assert 0 < client.pttl(b"a") <= ttl
    assert client.exists(b"b") == 0  # expired before it was written: never stored
    deadline = time.monotonic() + 30
    while client.exists(b"a") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.exists(b"a") == 0
    assert now_ms() >= now + ttl  # gone at its expiry, not before


def test_writer_survives_a_redis_restart_then_reports_the_dead_node() -> None:
    with RedisServer() as server:
        cfg = RedisConfig(url=server.url, max_retries=6, retry_backoff_s=0.1,
                          socket_timeout_s=0.5)
        now = now_ms()
        writer = BulkWriter(cfg, now_ms=now, ttl_ms=HOUR_MS)
        writer.write(WriteMode.CONDITIONAL, [b"a"], [value(now, 1, 1.0)])
        server.stop()  # loses data and the script cache
        restarter = threading.Timer(0.5, server.start)
        restarter.start()
        counts = writer.write(WriteMode.CONDITIONAL, [b"a", b"b"],
                              [value(now, 1, 1.0), value(now, 1, 2.0)])
        restarter.join()
        assert counts.written == 2
        assert stored(server.client(), b"b") == (now, 1, 2.0)
        server.stop()
        dead = RedisConfig(url=server.url, max_retries=2, retry_backoff_s=0.01)
        with pytest.raises(OnlineStoreError, match=f"127.0.0.1:{server.port}"):
            BulkWriter(dead, now_ms=now, ttl_ms=HOUR_MS).write(
                WriteMode.CONDITIONAL, [b"a"], [value(now, 1, 1.0)])


def test_a_run_of_ok_replies_is_taken_at_once_and_anything_else_is_left_to_parse() -> None:
    import socket

    from sparkfs.online.resp import Connection, ReplyError

    ours, theirs = socket.socketpair()
    conn = Connection.__new__(Connection)
    conn.address, conn.sock, conn._buf, conn._pos = "test", ours, bytearray(), 0
    theirs.sendall(b"+OK\r\n" * 3)
    assert conn.take_run(b"+OK\r\n", 3)
    theirs.sendall(b"+OK\r\n-OOM command not allowed\r\n+OK\r\n")
    assert not conn.take_run(b"+OK\r\n", 3)
    replies = conn.roundtrip(b"", 3)
    assert replies[0] == b"OK" and isinstance(replies[1], ReplyError) and replies[2] == b"OK"
    ours.close()
    theirs.close()
