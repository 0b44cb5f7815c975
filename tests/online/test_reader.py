from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.errors import OnlineStoreError, ValidationError
from sparkfs.online.generations import Generations
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix, datetime_to_us
from sparkfs.online.reader import AsyncOnlineReader, OnlineReader, Status
from sparkfs.online.topology import make_client
from sparkfs.online.view import Field, OnlineView
from sparkfs.online.writer import BulkWriter, WriteMode
from tests.redis_server import RedisServer

Store = RedisConfig | RedisClusterConfig
USERS = OnlineView("users", "v1aaaaaaaaaa", (Field("user_id", "int64"),),
                   (Field("clicks", "int64"), Field("score", "float64")), timedelta(hours=1))
MERCHANTS = OnlineView("merchants", "m1bbbbbbbbbb",
                       (Field("merchant_id", "string"), Field("country", "string")),
                       (Field("label", "string"),), None)


def publish(store: Store, view: OnlineView, rows: dict[tuple, tuple[datetime, list]],
            grace_s: float | None = None) -> int:
    """Write a full generation of ``view`` and publish it (what a full refresh does)."""
    gens = Generations(make_client(store), store.namespace)
    gen = gens.begin(view.name, view.version)
    prefix = data_prefix(store.namespace, view.name, view.version, gen)
    keys, values = EntityKeyCodec(view), ValueCodec(view)
    writer = BulkWriter(store, now_ms=int(time.time() * 1000), ttl_ms=view.ttl_ms)
    writer.write(WriteMode.FRESH, [prefix + keys.encode(k) for k in rows],
                 [values.encode(datetime_to_us(ev), 0, vals) for ev, vals in rows.values()],
                 [datetime_to_us(ev) // 1000 + (view.ttl_ms or 10**9) for ev, _ in rows.values()])
    writer.close()
    gens.publish(view.name, view.version, gen)
    if grace_s is not None:
        gens.collect(view.name, grace_s=grace_s, wait=True)
    return gen


def test_statuses_composite_keys_and_null_keys(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    publish(store, USERS, {(1,): (now - timedelta(minutes=50), [3, 0.5]),
                           (2,): (now - timedelta(minutes=5), [None, 1.5])})
    publish(store, MERCHANTS, {("m:1", "FR"): (now, ["a"]), ("m", "1:FR"): (now, ["b"])})
    reader = OnlineReader(store)
    rows = [{"user_id": 1, "merchant_id": "m:1", "country": "FR"},
            {"user_id": 2, "merchant_id": "m", "country": "1:FR"},
            {"user_id": 3, "merchant_id": None, "country": "FR"}]
    got = reader.read([USERS, MERCHANTS], rows, now=now)
    assert got[0]["users"].values == {"clicks": 3, "score": 0.5}
    assert got[0]["users"].event_time == now - timedelta(minutes=50)
    assert got[1]["users"].values == {"clicks": None, "score": 1.5}
    assert got[2]["users"].status is Status.NOT_FOUND
    assert [g["merchants"].values for g in got] == [{"label": "a"}, {"label": "b"}, None]
    later = reader.read([USERS], rows[:1], now=now + timedelta(minutes=15))
    assert later[0]["users"].status is Status.OUTSIDE_MAX_AGE
    assert later[0]["users"].values is None
    with pytest.raises(ValidationError, match="user_id"):
        reader.read([USERS], [{"merchant_id": "x"}])
    with pytest.raises(ValidationError, match="user_id"):
        reader.read([USERS], [{"user_id": "1"}])
    reader.close()


def test_one_round_trip_once_the_pointer_is_known(store: Store) -> None:
    now = datetime.now(UTC)
    publish(store, USERS, {(i,): (now, [i, 0.0]) for i in range(50)})
    publish(store, MERCHANTS, {("a", "b"): (now, ["x"])})
    reader = OnlineReader(store)
    calls: list[int] = []
    execute = reader._execute
    reader._execute = lambda cmds: calls.append(len(cmds)) or execute(cmds)  # type: ignore[method-assign]
    rows = [{"user_id": i, "merchant_id": "a", "country": "b"} for i in range(40)]
    reader.read([USERS, MERCHANTS], rows)
    calls.clear()
    got = reader.read([USERS, MERCHANTS], rows)
    assert len(calls) == 1
    assert [g["users"].values["clicks"] for g in got] == list(range(40))  # type: ignore[index]


def test_async_reader_matches_the_sync_reader(store: Store) -> None:
    now = datetime.now(UTC)
    publish(store, USERS, {(i,): (now, [i, float(i)]) for i in range(10)})
    rows = [{"user_id": i} for i in range(12)]
    expected = OnlineReader(store).read([USERS], rows, now=now)

    async def run() -> list:
        reader = AsyncOnlineReader(store)
        try:
            await reader.ping()
            return await reader.read([USERS], rows, now=now)
        finally:
            await reader.aclose()

    assert asyncio.run(run()) == expected


def test_readers_never_see_a_mix_of_generations(store: Store) -> None:
    """A refresher publishes generation after generation (every value = the round number)
    while a reader loops; every read must come from one complete generation."""
    now = datetime.now(UTC)
    entities = 300
    publish(store, USERS, {(i,): (now, [0, 0.0]) for i in range(entities)})
    stop = threading.Event()
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            for n in range(1, 9):
                publish(store, USERS, {(i,): (now, [n, 0.0]) for i in range(entities)},
                        grace_s=0.05)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=refresh)
    reader = OnlineReader(store)
    rows = [{"user_id": i} for i in range(entities)]
    seen = set()
    thread.start()
    while not stop.is_set():
        got = reader.read([USERS], rows)
        rounds = {g["users"].values["clicks"] if g["users"].values else None for g in got}
        assert len(rounds) == 1 and None not in rounds, rounds
        seen |= rounds
    thread.join()
    assert not errors
    assert len(seen) > 1  # the loop did overlap with switches


def test_unreachable_redis_is_an_online_store_error_and_recovers() -> None:
    with RedisServer() as server:
        store = RedisConfig(url=server.url, socket_timeout_s=0.3)
        publish(store, USERS, {(1,): (datetime.now(UTC), [1, 1.0])})
        reader = OnlineReader(store)
        assert reader.read([USERS], [{"user_id": 1}])[0]["users"].status is Status.PRESENT
        server.stop()
        with pytest.raises(OnlineStoreError, match=f"127.0.0.1:{server.port}"):
            reader.read([USERS], [{"user_id": 1}])
        server.start()  # data is gone after a restart: NOT_FOUND, without a new reader
        assert reader.read([USERS], [{"user_id": 1}])[0]["users"].status is Status.NOT_FOUND
