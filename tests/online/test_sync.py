from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.online.checkpoints import Checkpoint, InMemoryCheckpointStore
from sparkfs.online.reader import OnlineReader, Status
from sparkfs.online.sync import sync_feature_view
from sparkfs.online.view import Field, OnlineView
from tests.online.oracle import all_keys, dump, latest_oracle
from tests.redis_server import RedisServer

Store = RedisConfig | RedisClusterConfig
SCHEMA = ("user_id long, country string, event_timestamp timestamp, _ingested_at timestamp, "
          "clicks long, score double, label string")
VIEW = OnlineView("user_stats", "aaaa1111bbbb", (Field("user_id", "int64"), Field("country", "string")),
                  (Field("clicks", "int64"), Field("score", "float64"), Field("label", "string")),
                  timedelta(hours=2))
_ing = iter(range(10**9))


def make_rows(rng: random.Random, now: datetime, n: int, entities: int,
              max_age_min: int = 180) -> list[dict[str, Any]]:
    """Rows over ``entities`` (user_id, country) keys, some outside the 2 h ttl, some null."""
    base = now.replace(microsecond=0) - timedelta(hours=1)
    ages = [m for m in range(max_age_min) if not 100 <= m < 140]
    rows = []
    for _ in range(n):
        uid = rng.randrange(entities)
        rows.append({
            "user_id": uid if rng.random() > 0.02 else None,
            "country": rng.choice(["FR", "DE", "FR:DE"]),
            # ages avoid 100..140 min: a key near the 2 h ttl would expire during the test
            "event_timestamp": now - timedelta(minutes=rng.choice(ages),
                                               seconds=rng.randrange(60)),
            "_ingested_at": base + timedelta(microseconds=next(_ing)),
            "clicks": rng.randrange(100), "score": rng.random() if rng.random() > 0.2 else None,
            "label": rng.choice(["a", "bé", None]),
        })
    return rows


def write(spark: SparkSession, path: str, rows: list[dict[str, Any]], mode: str = "append",
          cdf: bool = True) -> None:
    df = spark.createDataFrame([tuple(r[c.split()[0]] for c in SCHEMA.split(", ")) for r in rows],
                               SCHEMA)
    writer = df.coalesce(1).write.format("delta").mode(mode)
    if cdf:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    writer.save(path)


def check(store: Store, rows: list[dict[str, Any]], now: datetime, view: OnlineView = VIEW) -> None:
    got, expected = dump(store, view), latest_oracle(rows, view, now)
    assert got == expected


def test_incremental_sync_new_late_and_deleted_rows(spark: SparkSession, store: Store,
                                                    tmp_path: Path) -> None:
    rng, now = random.Random(7), datetime.now(UTC)
    path, cps = str(tmp_path / "t"), InMemoryCheckpointStore()
    rows = make_rows(rng, now, 400, 60)
    write(spark, path, rows)
    first = sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                              now=now)
    assert (first.mode, first.reason) == ("full", "no checkpoint")
    check(store, rows, now)

    late = make_rows(rng, now, 150, 80)  # newer and late (older) rows, new entities
    write(spark, path, late)
    rows += late
    second = sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                               now=now)
    assert second.mode == "incremental" and second.from_delta_version == 1
    assert second.rows_sent < 150  # only changed entities travel
    assert second.entities_written < second.rows_sent  # late rows were rejected
    check(store, rows, now)

    # the offline store deletes the latest rows of some entities: an older row becomes latest
    victims = sorted({r["user_id"] for r in rows if r["user_id"] is not None})[:10]
    spark.sql(f"DELETE FROM delta.`{path}` WHERE user_id IN ({','.join(map(str, victims))}) "
              "AND clicks > 50")
    rows = [r for r in rows if not (r["user_id"] in victims and r["clicks"] > 50)]
    third = sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                              now=now)
    assert third.mode == "incremental"
    check(store, rows, now)
    assert sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                             now=now).mode == "noop"
    assert cps.get(VIEW.name) == Checkpoint(VIEW.version, 2, first.generation)


def test_new_definition_version_and_missing_history_trigger_full_refresh(
        spark: SparkSession, store: Store, tmp_path: Path) -> None:
    rng, now = random.Random(3), datetime.now(UTC)
    path, cps = str(tmp_path / "t"), InMemoryCheckpointStore()
    rows = make_rows(rng, now, 100, 30)
    write(spark, path, rows, cdf=False)  # no change feed at version 0
    sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps, now=now)
    more = make_rows(rng, now, 50, 30)
    write(spark, path, more)
    rows += more
    result = sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                               now=now, retire_grace_s=0.01)
    assert (result.mode, result.reason) == ("full", "change feed history unavailable")
    check(store, rows, now)

    v2 = OnlineView(VIEW.name, "cccc2222dddd", VIEW.keys, VIEW.features[:2], VIEW.ttl)
    result = sync_feature_view(spark, table_path=path, view=v2, online=store, checkpoints=cps,
                               now=now, retire_grace_s=0.01)
    assert result.mode == "full" and result.reason.startswith("definition version changed")
    check(store, rows, now, v2)
    assert dump(store, VIEW) == {}  # the old version is unpublished and its keys deleted
    prefixes = {k.split(b":")[3] for k in all_keys(store) if not k.endswith(b"ctl")}
    assert prefixes == {b"cccc2222"}
    reader = OnlineReader(store)
    row = {"user_id": rows[0]["user_id"], "country": rows[0]["country"]}
    got = reader.read([VIEW], [row])[0]
    assert got[VIEW.name].status is Status.NOT_FOUND


def test_full_refresh_is_atomic_for_a_concurrent_reader(spark: SparkSession, store: Store,
                                                        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    path, cps = str(tmp_path / "t"), InMemoryCheckpointStore()
    entities = [(i, "FR") for i in range(200)]

    def table(round_: int) -> list[dict[str, Any]]:
        return [{"user_id": u, "country": c, "event_timestamp": now - timedelta(minutes=10 - round_),
                 "_ingested_at": now, "clicks": round_, "score": 0.0, "label": None}
                for u, c in entities]

    write(spark, path, table(0), mode="overwrite")
    sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps, now=now)
    reader = OnlineReader(store)
    keys = [{"user_id": u, "country": c} for u, c in entities]
    stop, seen, bad = threading.Event(), set(), []

    def loop() -> None:
        while not stop.is_set():
            got = {g[VIEW.name].values["clicks"] if g[VIEW.name].values else None
                   for g in reader.read([VIEW], keys)}
            seen.update(got)
            if len(got) != 1 or None in got:
                bad.append(got)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        for round_ in (1, 2):
            write(spark, path, table(round_), mode="overwrite")
            sync_feature_view(spark, table_path=path, view=VIEW, online=store, checkpoints=cps,
                              now=now, full=True, retire_grace_s=0.3)
    finally:
        stop.set()
        thread.join()
    assert not bad
    assert seen == {0, 1, 2}
    assert len([k for k in all_keys(store) if not k.endswith(b"ctl")]) == len(entities)
