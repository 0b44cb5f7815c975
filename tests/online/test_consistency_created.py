"""Online equals offline at the lookup time for views with a created time (corrections).

Two plain views over random histories with created times: ``corrected`` (ties on event time go
to the latest created, then the latest ingestion) and ``known`` (knowing time: a row is usable
from ``max(E + delay, created)``). Rows share event times, created times lie before and after
the sync and the lookups, some rows have none. Synced, read online at random times from the
sync on, compared with the point-in-time join at that time and with brute force; then
corrections and re-sent older rows arrive (ingested later, recorded earlier), an incremental
sync merges them, and the comparison is repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.config import RedisConfig
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.layout import datetime_to_us
from sparkfs.online.reader import OnlineReader, Status
from sparkfs.online.sync import sync_feature_view
from sparkfs.online.view import Field, OnlineView
from sparkfs.training.pit_join import FeatureSource, point_in_time_join

KEYS = (Field("user_id", "int64"),)
FEATURES = (Field("x", "float64"), Field("label", "string"))
CORRECTED = OnlineView("corrected", "c1aaaaaaaaaa", KEYS, FEATURES, timedelta(hours=3),
                       timedelta(minutes=10), created=True)
KNOWN = OnlineView("known", "k1aaaaaaaaaa", KEYS, FEATURES, None, timedelta(minutes=5),
                   created=True, availability="created")
VIEWS = (CORRECTED, KNOWN)
USERS = range(4)
SCHEMA = ("user_id long, event_timestamp timestamp, _created_at timestamp, "
          "_ingested_at timestamp, x double, label string")

# (user, E minutes, created minutes or None, ingestion microseconds, x, label); few event
# times, so rows share them (corrections), created before and after the sync (minute 0)
ROWS = st.lists(st.tuples(st.sampled_from(USERS), st.integers(-60, 40),
                          st.one_of(st.none(), st.integers(-70, 90)), st.integers(0, 3),
                          st.one_of(st.none(), st.integers(0, 9)), st.sampled_from(["a", None])),
                max_size=24, unique_by=lambda r: r[:4])
TIMES = st.lists(st.integers(0, 200 * 60), min_size=1, max_size=6)
# corrections and re-sent records of first-batch rows: (row index, created minutes, x)
FIXES = st.lists(st.tuples(st.integers(0, 23), st.one_of(st.none(), st.integers(-70, 90)),
                           st.integers(0, 9)), max_size=10)
Row = tuple[int, datetime, datetime | None, datetime, float | None, str | None]


def _rows(raw: Sequence[tuple[Any, ...]], base: datetime, ingest_base: datetime) -> list[Row]:
    return [(u, base + timedelta(minutes=e), None if c is None else base + timedelta(minutes=c),
             ingest_base + timedelta(microseconds=k), None if x is None else float(x), lab)
            for u, e, c, k, x, lab in raw]


def _oracle(rows: Sequence[Row], view: OnlineView, user: int, t: datetime) -> Row | None:
    """Brute force: greatest (E, created (none lowest), ingested) usable at t, within ttl."""
    usable = [r for r in rows if r[0] == user and r[1] + view.availability_delay <= t
              and (view.availability == "event" or (r[2] is not None and r[2] <= t))]
    if not usable:
        return None
    best = max(usable, key=lambda r: (r[1], r[2] is not None, r[2] or t, r[3]))
    return best if view.ttl is None or best[1] > t - view.ttl else None


def _offline(spark: SparkSession, paths: dict[str, tuple[str, int]],
             times: Sequence[datetime]) -> dict[tuple[int, int, str], tuple[int | None, Any]]:
    spine = spark.createDataFrame([(u, t, i) for u in USERS for i, t in enumerate(times)],
                                  "user_id long, ts timestamp, t_id int")
    sources = [FeatureSource(v.name, spark.read.format("delta")
                             .option("versionAsOf", paths[v.name][1]).load(paths[v.name][0]),
                             ("user_id",), v.feature_names,
                             tuple(f"{v.name}__{f}" for f in v.feature_names), ttl=v.ttl,
                             availability_delay=v.availability_delay,
                             timestamp_output=f"{v.name}__ts", created=True,
                             availability=v.availability)
               for v in VIEWS]
    joined = point_in_time_join(spine, sources, timestamp_column="ts")
    stamps = [F.unix_micros(F.col(f"{v.name}__ts")).alias(f"{v.name}__us") for v in VIEWS]
    out = {}
    for row in joined.select("*", *stamps).collect():
        for v in VIEWS:
            out[(row["user_id"], row["t_id"], v.name)] = (
                row[f"{v.name}__us"], {f: row[f"{v.name}__{f}"] for f in v.feature_names})
    return out


def _compare(spark: SparkSession, store: RedisConfig, paths: dict[str, tuple[str, int]],
             times: Sequence[datetime], rows: Sequence[Row]) -> None:
    offline = _offline(spark, paths, times)
    reader = OnlineReader(store)
    try:
        for i, t in enumerate(times):
            answers = reader.read(list(VIEWS), [{"user_id": u} for u in USERS], now=t)
            for u, answer in zip(USERS, answers, strict=True):
                for view in VIEWS:
                    got, (stamp, values) = answer[view.name], offline[(u, i, view.name)]
                    best = _oracle(rows, view, u, t)
                    where = (u, view.name, t.isoformat(), got, best)
                    if best is None:
                        assert stamp is None, where
                        assert got.values is None, where
                        continue
                    assert values == {"x": best[4], "label": best[5]}, where
                    assert stamp == datetime_to_us(best[1]), where
                    assert got.status is Status.PRESENT, where
                    assert datetime_to_us(got.event_time) == stamp, where
                    assert got.values == values, where
    finally:
        reader.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(rows=ROWS, more_rows=ROWS, fixes=FIXES, times=TIMES, later_times=TIMES)
def test_online_lookups_with_created_times_equal_the_point_in_time_join(
        spark: SparkSession, redis_url: str, tmp_path_factory: Any,
        rows: list[tuple[Any, ...]], more_rows: list[tuple[Any, ...]],
        fixes: list[tuple[int, int | None, int]], times: list[int], later_times: list[int]) -> None:
    store = RedisConfig(url=redis_url, retry_backoff_s=0.05)
    redis.Redis.from_url(redis_url).flushall()
    base = tmp_path_factory.mktemp("consistency_created")
    now = datetime.now(UTC).replace(microsecond=0)
    first = _rows(rows, now, now)
    frame = spark.createDataFrame(first or [(0, None, None, now, None, None)], SCHEMA)
    paths: dict[str, tuple[str, int]] = {}
    for view in VIEWS:
        path = str(base / view.name)
        (frame.where("event_timestamp IS NOT NULL").write.format("delta")
         .option("delta.enableChangeDataFeed", "true").save(path))
        paths[view.name] = (path, 0)
    checkpoints = InMemoryCheckpointStore()

    def sync(at: datetime) -> None:
        for view in VIEWS:
            result = sync_feature_view(spark, table_path=paths[view.name][0], view=view,
                                       online=store, checkpoints=checkpoints, now=at,
                                       retire_grace_s=0)
            paths[view.name] = (paths[view.name][0], result.to_delta_version)

    sync(now)
    _compare(spark, store, paths, [now + timedelta(seconds=s) for s in sorted(times)], first)

    # corrections (same E, later created) and re-sent older rows (earlier created) arrive,
    # ingested after everything stored; an incremental sync merges them
    later = now + timedelta(minutes=20)
    fixed = [(*rows[i][:2], c, 10 + j, x, "fix") for j, (i, c, x) in enumerate(fixes) if i < len(rows)]
    extra = _rows(more_rows + fixed, now, later)
    if extra:
        for view in VIEWS:
            spark.createDataFrame(extra, SCHEMA).write.format("delta").mode("append").save(
                paths[view.name][0])
    sync(later)
    _compare(spark, store, paths, [later + timedelta(seconds=s) for s in sorted(later_times)],
             first + extra)
