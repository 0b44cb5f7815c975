"""Online equals offline at the instant of a lookup (docs/online-store.md, the contract).

Random event histories for a plain view (ties, late rows, future rows, ttl, availability delay)
and an aggregation view (several windows, ttl) are written to Delta, synced, and read online at
random request times from the sync onward to past the longest window; every value, status and
event time must equal the point-in-time join at that time, and both must equal a brute-force
oracle. Then new and late events arrive (an incremental materialization: updates, inserts and
deletes in the change feed), an incremental sync runs, and the comparison is repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from delta.tables import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.config import RedisConfig
from sparkfs.offline.aggregation import AggFeature, AggregationSpec, aggregate_windows
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.layout import datetime_to_us
from sparkfs.online.reader import OnlineReader, Status
from sparkfs.online.sync import sync_feature_view
from sparkfs.online.view import Field, OnlineView
from sparkfs.training.pit_join import FeatureSource, point_in_time_join
from tests.offline.aggregation_oracle import Event, expected_at

SPEC = AggregationSpec("hour", (timedelta(hours=1), timedelta(days=1)), (
    AggFeature("n", "count"), AggFeature("amount_sum", "sum", "amount"),
    AggFeature("amount_max", "max", "amount")))
PLAIN = OnlineView("plain", "p1aaaaaaaaaa", (Field("user_id", "int64"),),
                   (Field("x", "float64"), Field("label", "string")), timedelta(hours=3),
                   timedelta(minutes=10))
AGG_TTL = timedelta(hours=30)
USERS = range(5)
PLAIN_SCHEMA = "user_id long, event_timestamp timestamp, _ingested_at timestamp, x double, label string"

EVENTS = st.lists(st.tuples(st.sampled_from(USERS), st.integers(-3000 * 60, 120 * 60),
                            st.one_of(st.none(), st.integers(-5, 20))), max_size=25)
ROWS = st.lists(st.tuples(st.sampled_from(USERS), st.integers(-400, 90), st.integers(0, 2),
                          st.one_of(st.none(), st.integers(0, 9)), st.sampled_from(["a", None])),
                max_size=20, unique_by=lambda r: r[:3])
TIMES = st.lists(st.integers(0, 1700 * 60), min_size=1, max_size=6)


def _aggregated(spark: SparkSession, events: Sequence[tuple[int, datetime, float | None]],
                ingested: datetime) -> DataFrame:
    df = spark.createDataFrame(list(events) or [(0, None, None)],
                               "user_id long, ts timestamp, amount double")
    out = aggregate_windows(df, keys=["user_id"], timestamp_column="ts", spec=SPEC)
    return out.withColumn("_ingested_at", F.lit(ingested))


def _agg_view(df: DataFrame) -> OnlineView:
    features = tuple(Field(f.name, f.dataType.simpleString()) for f in df.schema.fields
                     if f.name not in ("user_id", "event_timestamp", "_ingested_at"))
    return OnlineView("aggs", "a1bbbbbbbbbb", (Field("user_id", "int64"),), features, AGG_TTL)


def _merge(spark: SparkSession, path: str, new: DataFrame, features: Sequence[str]) -> None:
    """An incremental materialization: changed rows updated, new ones inserted, gone ones
    deleted (unchanged rows stay out of the change feed)."""
    changed = " OR ".join(f"NOT (t.{f} <=> s.{f})" for f in features)
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(new.alias("s"), "t.user_id = s.user_id AND t.event_timestamp = s.event_timestamp")
     .whenMatchedUpdateAll(condition=changed).whenNotMatchedInsertAll()
     .whenNotMatchedBySourceDelete().execute())


def _plain_oracle(rows: Sequence[tuple[Any, ...]], user: int, t: datetime) -> tuple[Any, ...] | None:
    """Brute force: the row with the greatest (E, ingested) such that E + delay <= t, if in ttl."""
    usable = [r for r in rows if r[0] == user and r[1] + PLAIN.availability_delay <= t]
    if not usable:
        return None
    best = max(usable, key=lambda r: (r[1], r[2]))
    assert PLAIN.ttl is not None
    return best if best[1] > t - PLAIN.ttl else None


def _offline(spark: SparkSession, tables: dict[str, tuple[OnlineView, str, int]],
             times: Sequence[datetime]) -> dict[tuple[int, int, str], tuple[int | None, list[Any]]]:
    spine = spark.createDataFrame([(u, t, i) for u in USERS for i, t in enumerate(times)],
                                  "user_id long, ts timestamp, t_id int")
    sources = [FeatureSource(name, spark.read.format("delta").option("versionAsOf", version)
                             .load(path), ("user_id",), view.feature_names,
                             tuple(f"{name}__{f}" for f in view.feature_names), ttl=view.ttl,
                             availability_delay=view.availability_delay,
                             timestamp_output=f"{name}__ts")
               for name, (view, path, version) in tables.items()]
    joined = point_in_time_join(spine, sources, timestamp_column="ts")
    stamps = [F.unix_micros(F.col(f"{n}__ts")).alias(f"{n}__us") for n in tables]
    out = {}
    for row in joined.select("*", *stamps).collect():
        for name, (view, _, _) in tables.items():
            out[(row["user_id"], row["t_id"], name)] = (
                row[f"{name}__us"], [row[f"{name}__{f}"] for f in view.feature_names])
    return out


def _compare(spark: SparkSession, store: RedisConfig,
             tables: dict[str, tuple[OnlineView, str, int]], times: Sequence[datetime],
             plain_rows: Sequence[tuple[Any, ...]],
             events: Sequence[tuple[int, datetime, float | None]]) -> None:
    offline = _offline(spark, tables, times)
    reader = OnlineReader(store)
    views = [v for v, _, _ in tables.values()]
    try:
        for i, t in enumerate(times):
            answers = reader.read(views, [{"user_id": u} for u in USERS], now=t)
            for u, answer in zip(USERS, answers, strict=True):
                for name, (view, _, _) in tables.items():
                    got, (stamp, values) = answer[name], offline[(u, i, name)]
                    where = f"user {u}, view {name}, t={t.isoformat()}"
                    if stamp is None:
                        assert got.status in (Status.NOT_FOUND, Status.OUTSIDE_MAX_AGE), where
                        assert got.values is None, where
                    else:
                        assert got.status is Status.PRESENT, (where, got)
                        assert datetime_to_us(got.event_time) == stamp, (where, got)
                        assert got.values == dict(zip(view.feature_names, values,
                                                      strict=True)), (where, got)
                # both agree with brute force too
                best = _plain_oracle(plain_rows, u, t)
                plain = answer[PLAIN.name]
                assert (plain.values == {"x": best[3], "label": best[4]}
                        if best else plain.values is None), (u, t, best, plain)
                agg = answer["aggs"]
                if agg.status is Status.PRESENT:
                    mine = [Event((u,), ts, {"amount": a}) for uu, ts, a in events if uu == u]
                    assert agg.values == expected_at(SPEC, mine, t), (u, t)
    finally:
        reader.close()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(events=EVENTS, more_events=EVENTS, rows=ROWS, more_rows=ROWS, times=TIMES,
       later_times=TIMES)
def test_online_lookups_equal_the_point_in_time_join_at_the_lookup_time(
        spark: SparkSession, redis_url: str, tmp_path_factory: Any,
        events: list[tuple[int, int, int | None]], more_events: list[tuple[int, int, int | None]],
        rows: list[tuple[int, int, int, int | None, str | None]],
        more_rows: list[tuple[int, int, int, int | None, str | None]],
        times: list[int], later_times: list[int]) -> None:
    store = RedisConfig(url=redis_url, retry_backoff_s=0.05)
    redis.Redis.from_url(redis_url).flushall()
    base = tmp_path_factory.mktemp("consistency")
    now = datetime.now(UTC).replace(microsecond=0)
    ev = [(u, now + timedelta(seconds=s), None if a is None else a / 4) for u, s, a in events]
    plain = [(u, now + timedelta(minutes=m), now + timedelta(microseconds=k),
              None if x is None else float(x), lab) for u, m, k, x, lab in rows]

    agg_path, plain_path = str(base / "aggs"), str(base / "plain")
    agg_df = _aggregated(spark, ev, now)
    agg = _agg_view(agg_df)
    agg_df.write.format("delta").option("delta.enableChangeDataFeed", "true").save(agg_path)
    (spark.createDataFrame(plain or [(0, None, None, None, None)], PLAIN_SCHEMA)
     .where("event_timestamp IS NOT NULL").write.format("delta")
     .option("delta.enableChangeDataFeed", "true").save(plain_path))

    checkpoints = InMemoryCheckpointStore()

    def sync(at: datetime) -> dict[str, tuple[OnlineView, str, int]]:
        out = {}
        for view, path in ((PLAIN, plain_path), (agg, agg_path)):
            result = sync_feature_view(spark, table_path=path, view=view, online=store,
                                       checkpoints=checkpoints, now=at, retire_grace_s=0)
            out[view.name] = (view, path, result.to_delta_version)
        return out

    tables = sync(now)
    _compare(spark, store, tables, [now + timedelta(seconds=s) for s in sorted(times)], plain,
             ev)

    # new and late events and rows arrive; an incremental materialization and sync follow
    later = now + timedelta(minutes=15)
    ev += [(u, later + timedelta(seconds=s // 2), None if a is None else a / 4)
           for u, s, a in more_events]
    _merge(spark, agg_path, _aggregated(spark, ev, later), agg.feature_names)
    extra = [(u, later + timedelta(minutes=m), later + timedelta(microseconds=k),
              None if x is None else float(x), lab) for u, m, k, x, lab in more_rows]
    if extra:
        spark.createDataFrame(extra, PLAIN_SCHEMA).write.format("delta").mode("append").save(
            plain_path)
    tables = sync(later)
    for name, (_, _, version) in tables.items():
        checkpoint = checkpoints.get(name)
        assert checkpoint is not None and checkpoint.delta_version == version
    _compare(spark, store, tables, [later + timedelta(seconds=s) for s in sorted(later_times)],
             plain + extra, ev)
