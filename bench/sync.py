"""Benchmark the online sync: 1M entities x 10 float features, Delta -> a fresh redis-server;
then an aggregation view (1M events of 50k users over the last 30 days, 1h/1d/7d/30d windows),
whose entities carry several change points each.

Prints progress to stderr and one JSON object (keys in bench/README.md) as the last stdout
line. Every rate sits next to a raw limit measured in the same run on the same server:
redis-benchmark HSET with -P 64, and the same SETs sent through redis-py pipelines; the
aggregation view's rates sit next to the plain view's in the same process.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from delta import configure_spark_with_delta_pip
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.config import RedisConfig
from sparkfs.offline.aggregation import AggFeature, AggregationSpec, aggregate_windows
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix, datetime_to_us
from sparkfs.online.points import points_per_entity
from sparkfs.online.sync import SyncResult, sync_feature_view
from sparkfs.online.view import Field, OnlineView
from sparkfs.online.writer import BulkWriter, WriteMode
from sparkfs.session import BASE_SPARK_CONF
from tests.redis_server import RedisServer

ENTITIES = int(os.environ.get("BENCH_ENTITIES", 1_000_000))
FEATURES = 10
CHANGED = 0.01
VIEW = OnlineView("bench_stats", "0123456789abcdef", (Field("entity_id", "int64"),),
                  tuple(Field(f"f{i}", "float64") for i in range(FEATURES)), timedelta(days=7))
# The aggregation view: bench/materialize.py's workload (and conf/features/users.yaml's
# user_txn_aggs), ending at the sync's `now` instead of a fixed date: one event per entity of
# the plain part, 20 per user.
AGG_EVENTS = ENTITIES
AGG_USERS = max(100, ENTITIES // 20)
AGG_DAYS = 30
AGG_SPEC = AggregationSpec(
    "hour", (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30)),
    (AggFeature("txn_count", "count", "amount"), AggFeature("txn_amount_sum", "sum", "amount"),
     AggFeature("txn_amount_avg", "avg", "amount")))
AGG_TTL = timedelta(days=35)
AGG_CHANGED_EVERY = 100  # users with user_id % 100 == 0 get new events: 1%
AGG_NEW_EVENTS_PER_USER = 2
AGG_SAMPLE = 2000  # values read back and decoded to count points and bytes


def log(msg: str) -> None:
    print(f"[bench/sync] {msg}", file=sys.stderr, flush=True)


def session() -> SparkSession:
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-bench-sync")
    conf = {**BASE_SPARK_CONF, "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2", "spark.driver.memory": "3g",
            "spark.databricks.delta.snapshotPartitions": "2",
            "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def make_table(spark: SparkSession, path: str, now: datetime, n: int, start: int = 0,
               step: int = 1, age_s: int = 3600) -> None:
    df = spark.range(start, start + n * step, step, numPartitions=2).select(
        F.col("id").alias("entity_id"),
        (F.lit(now) - F.expr(f"make_interval(0,0,0,0,0,0, id % {age_s})")).alias("event_timestamp"),
        F.lit(now).alias("_ingested_at"),
        *[F.rand(seed=i).alias(f"f{i}") for i in range(FEATURES)],
    )
    mode = "overwrite" if start == 0 and step == 1 else "append"
    (df.write.format("delta").mode(mode).option("delta.enableChangeDataFeed", "true").save(path))


def redis_benchmark(port: int) -> float:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-P", "64", "-t", "hset",
                          "-n", str(ENTITIES), "-q"], capture_output=True, text=True, check=True)
    match = re.search(r"HSET: ([\d.]+) requests per second", out.stdout.replace("\r", "\n"))
    if match is None:
        raise RuntimeError(f"cannot parse redis-benchmark output: {out.stdout[-300:]}")
    return float(match.group(1))


def payloads(now_ms: int) -> tuple[list[bytes], list[bytes]]:
    keys, values = EntityKeyCodec(VIEW), ValueCodec(VIEW)
    prefix = data_prefix("sfs", VIEW.name, VIEW.version, 99)
    row = [0.5] * FEATURES
    return ([prefix + keys.encode((i,)) for i in range(ENTITIES)],
            [values.encode(now_ms * 1000, now_ms * 1000, row) for _ in range(ENTITIES)])


def redis_py_rate(server: RedisServer, keys: list[bytes], values: list[bytes], exp: int) -> float:
    client = server.client()
    started = time.perf_counter()
    for off in range(0, len(keys), 2000):
        pipe = client.pipeline(transaction=False)
        for key, value in zip(keys[off : off + 2000], values[off : off + 2000], strict=True):
            pipe.set(key, value, pxat=exp)
        pipe.execute()
    return len(keys) / (time.perf_counter() - started)


def writer_rate(cfg: RedisConfig, mode: WriteMode, keys: list[bytes], values: list[bytes],
                now_ms: int, view: OnlineView = VIEW) -> float:
    """The bulk RESP writer alone (no Spark), in FRESH (SET) or CONDITIONAL (script) mode."""
    writer = BulkWriter(cfg, now_ms=now_ms, ttl_ms=view.ttl_ms)
    exp = [now_ms + view.ttl_ms] * 2000
    started = time.perf_counter()
    for off in range(0, len(keys), 2000):
        k, v = keys[off : off + 2000], values[off : off + 2000]
        writer.write(mode, k, v, exp[: len(k)])
    writer.close()
    return len(keys) / (time.perf_counter() - started)


def fresh_full_sync(spark: SparkSession, client: redis.Redis, cfg: RedisConfig, path: str,
                    view: OnlineView, now: datetime) -> tuple[SyncResult, int,
                                                              InMemoryCheckpointStore]:
    """A full sync from an empty Redis and no checkpoint: its result, the ``used_memory`` it
    added, and its checkpoints (for an incremental sync after it)."""
    client.flushall()
    before = int(client.info("memory")["used_memory"])
    cps = InMemoryCheckpointStore()
    result = sync_feature_view(spark, table_path=path, view=view, online=cfg, checkpoints=cps,
                               now=now)
    assert result.mode == "full", result
    return result, int(client.info("memory")["used_memory"]) - before, cps


def points_query_s(spark: SparkSession, path: str, view: OnlineView, now: datetime) -> float:
    """Wall time of the sync's Spark side alone: each entity's change points computed from the
    table and dropped (``noop`` sink), no encoding, no Redis."""
    started = time.perf_counter()
    (points_per_entity(spark.read.format("delta").load(path), view, now)
     .write.format("noop").mode("overwrite").save())
    return time.perf_counter() - started


def agg_events(spark: SparkSession, now: datetime, n: int, seed: int = 0,
               span: timedelta = timedelta(days=AGG_DAYS), every: int = 1) -> DataFrame:
    """``n`` events uniform over ``span`` ending at ``now`` (deterministic for a seed): of
    ``AGG_USERS`` users at random, or with ``every`` > 1 round-robin over users ``0, every,
    2 * every, ...`` (each as many events)."""
    span_us, now_us = span // timedelta(microseconds=1), datetime_to_us(now)
    user = (F.pmod(F.xxhash64("id", F.lit(seed)), F.lit(AGG_USERS)) if every == 1
            else F.pmod("id", F.lit(AGG_USERS // every)) * every)
    return spark.range(n, numPartitions=2).select(
        user.alias("user_id"),
        F.timestamp_micros(F.lit(now_us) - F.pmod(F.xxhash64("id", F.lit(seed + 1)), F.lit(span_us))
                           ).alias("ts"),
        (F.pmod(F.xxhash64("id", F.lit(seed + 2)), F.lit(100_000)) / 100.0).alias("amount"))


def aggregated(events: DataFrame, ingested: datetime) -> DataFrame:
    return (aggregate_windows(events, keys=["user_id"], timestamp_column="ts", spec=AGG_SPEC)
            .withColumn("_ingested_at", F.lit(ingested)))


def agg_view(df: DataFrame) -> OnlineView:
    features = tuple(Field(f.name, f.dataType.simpleString()) for f in df.schema.fields
                     if f.name not in ("user_id", "event_timestamp", "_ingested_at"))
    return OnlineView("bench_aggs", "fedcba9876543210", (Field("user_id", "int64"),), features,
                      AGG_TTL)


def merge_changed(spark: SparkSession, path: str, new: DataFrame, changed: str,
                  features: tuple[str, ...]) -> None:
    """An incremental materialization of the changed users: their changed rows updated, new
    ones inserted, gone ones deleted (tests/online/test_consistency.py's merge, restricted to
    the users recomputed)."""
    differs = " OR ".join(f"NOT (t.{f} <=> s.{f})" for f in features)
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(new.alias("s"), "t.user_id = s.user_id AND t.event_timestamp = s.event_timestamp")
     .whenMatchedUpdateAll(condition=differs).whenNotMatchedInsertAll()
     .whenNotMatchedBySourceDelete(condition=changed.replace("user_id", "t.user_id"))
     .execute())


def sample_values(client: redis.Redis, view: OnlineView, generation: int, n: int) -> list[bytes]:
    """Up to ``n`` stored values of ``view`` (Redis picks which: SCAN order)."""
    prefix = data_prefix("sfs", view.name, view.version, generation)
    keys: list[bytes] = []
    for key in client.scan_iter(match=prefix + b"*", count=1000):
        keys.append(key)
        if len(keys) >= n:
            break
    return [v for v in client.mget(keys) if v is not None]


def agg_part(spark: SparkSession, client: redis.Redis, cfg: RedisConfig, tmp: Path,
             now: datetime, now_ms: int) -> dict[str, object]:
    """The aggregation view: table written (not timed), full sync twice, bytes and points per
    entity, then new events for 1% of the users, a merge (not timed) and an incremental sync."""
    path = str(tmp / "aggs")
    log(f"aggregation view: {AGG_EVENTS} events of {AGG_USERS} users over {AGG_DAYS} days, "
        "aggregate_windows + Delta write (not timed)")
    started = time.perf_counter()
    events = agg_events(spark, now, AGG_EVENTS)
    table = aggregated(events, now)
    (table.write.format("delta").mode("overwrite").option("delta.enableChangeDataFeed", "true")
     .save(path))
    view = agg_view(table)
    written = spark.read.format("delta").load(path)
    rows = written.count()
    per_user = written.groupBy("user_id").agg(
        F.sum((F.col("event_timestamp") > F.lit(now)).cast("int")).alias("later"))
    stats = per_user.agg(F.count("*").alias("users"), F.avg("later").alias("mean"),
                         F.max("later").alias("max")).first()
    log(f"aggregation table: {rows} rows, {time.perf_counter() - started:.1f} s; "
        f"{stats['mean']:.1f} later rows per user (max {stats['max']})")

    log("aggregation view: full sync")
    full, mem, _ = fresh_full_sync(spark, client, cfg, path, view, now)
    entities = full.entities_written
    assert client.dbsize() >= entities, (full, client.dbsize())
    codec = ValueCodec(view)
    sample = sample_values(client, view, full.generation, AGG_SAMPLE)
    points = [len(codec.spans(v)) for v in sample]
    log("aggregation view: the writer alone on the synced values, and the points query alone "
        "(noop sink)")
    client.flushall()
    keys = EntityKeyCodec(view)
    prefix = data_prefix("sfs", view.name, view.version, 99)
    agg_writer = writer_rate(cfg, WriteMode.FRESH,
                             [prefix + keys.encode((i,)) for i in range(entities)],
                             [sample[i % len(sample)] for i in range(entities)], now_ms, view)
    query_s = points_query_s(spark, path, view, now)
    log("aggregation view: full sync again (warm)")
    full_warm, _, cps = fresh_full_sync(spark, client, cfg, path, view, now)
    assert full_warm.entities_written == entities, full_warm

    later = now + timedelta(minutes=15)
    changed = f"user_id % {AGG_CHANGED_EVERY} = 0"
    n_users = AGG_USERS // AGG_CHANGED_EVERY
    log(f"aggregation view: {AGG_NEW_EVENTS_PER_USER} new events for each of {n_users} users "
        "(1%), recomputed and merged (not timed)")
    new = agg_events(spark, later, AGG_NEW_EVENTS_PER_USER * n_users, seed=10,
                     span=later - now, every=AGG_CHANGED_EVERY)
    mine = events.where(changed).unionByName(new)
    merge_changed(spark, path, aggregated(mine, later), changed, view.feature_names)
    cdf = (spark.read.format("delta").option("readChangeFeed", "true")
           .option("startingVersion", full.to_delta_version + 1).load(path)
           .groupBy("_change_type").count().collect())
    kinds = {r["_change_type"]: r["count"] for r in cdf}
    log(f"aggregation view: incremental sync (change feed {kinds})")
    incr = sync_feature_view(spark, table_path=path, view=view, online=cfg, checkpoints=cps,
                             now=later)
    assert incr.mode == "incremental", incr
    return {
        "agg_events": AGG_EVENTS,
        "agg_users": AGG_USERS,
        "agg_windows": ["1h", "1d", "7d", "30d"],
        "agg_features": len(view.features),
        "agg_table_rows": rows,
        "agg_table_rows_per_user": round(rows / stats["users"], 1),
        "agg_sync_rows_sent": full.rows_sent,
        "agg_entities": entities,
        "agg_full_sync_s": round(full.duration_s, 2),
        "agg_full_sync_entities_per_s": round(entities / full.duration_s),
        "agg_full_sync_warm_s": round(full_warm.duration_s, 2),
        "agg_full_sync_warm_entities_per_s": round(entities / full_warm.duration_s),
        "agg_full_sync_points_per_s": round(entities * (stats["mean"] + 1) / full.duration_s),
        "agg_points_query_noop_s": round(query_s, 2),
        "agg_writer_set_per_s": round(agg_writer),
        "agg_bytes_per_entity": round(mem / entities, 1),
        "agg_value_bytes_mean": round(sum(map(len, sample)) / len(sample), 1),
        "agg_points_per_entity_mean": round(stats["mean"] + 1, 2),
        "agg_points_per_entity_max": int(stats["max"]) + 1,
        "agg_sample_values": len(sample),
        "agg_sample_points_mean": round(sum(points) / len(points), 2),
        "agg_sample_points_max": max(points),
        "agg_incremental_users": n_users,
        "agg_incremental_new_events": AGG_NEW_EVENTS_PER_USER * n_users,
        "agg_incremental_change_feed": kinds,
        "agg_incremental_rows_sent": incr.rows_sent,
        "agg_incremental_entities_written": incr.entities_written,
        "agg_incremental_entities_deleted": incr.entities_deleted,
        "agg_incremental_sync_s": round(incr.duration_s, 2),
        "agg_full_over_incremental_ratio": round(full.duration_s / incr.duration_s, 1),
    }


def main() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    now = datetime.now(UTC).replace(microsecond=0)
    now_ms = int(now.timestamp() * 1000)
    tmp = Path(tempfile.mkdtemp(prefix="sparkfs-bench-sync-"))
    atexit.register(shutil.rmtree, tmp, True)  # the tables (~350 MB at the default size)
    path = str(tmp / "table")
    with RedisServer() as server:
        client, cfg = server.client(), RedisConfig(url=server.url)
        log(f"redis-benchmark -P 64 -t hset -n {ENTITIES}")
        hset_rps = redis_benchmark(server.port)
        client.flushall()
        log("encoding reference payloads")
        keys, values = payloads(now_ms)
        log("redis-py pipelines")
        redis_py = redis_py_rate(server, keys, values, now_ms + VIEW.ttl_ms)
        client.flushall()
        set_rate = writer_rate(cfg, WriteMode.FRESH, keys, values, now_ms)
        client.flushall()
        script_rate = writer_rate(cfg, WriteMode.CONDITIONAL, keys, values, now_ms)
        client.flushall()
        raw_payload = (sum(map(len, keys)) + sum(map(len, values))) / ENTITIES
        del keys, values

        spark = session()
        log(f"writing the Delta table ({ENTITIES} entities x {FEATURES} features)")
        make_table(spark, path, now, ENTITIES)
        # A job's fixed start-up (JVM code generation, Python workers importing numpy/pyarrow,
        # the first Delta snapshot) is paid once per spark-submit, not per entity: a full sync of
        # a small table of another view pays it first and is reported on its own.
        warm_path = str(tmp / "warmup")
        make_table(spark, warm_path, now, max(1000, ENTITIES // 100))
        log("warm-up: full sync of a small table (start-up cost)")
        warm_view = OnlineView("bench_warmup", VIEW.version, VIEW.keys, VIEW.features, VIEW.ttl)
        warm_cps = InMemoryCheckpointStore()
        warm = sync_feature_view(spark, table_path=warm_path, view=warm_view, online=cfg,
                                 checkpoints=warm_cps, now=now)
        # and the incremental path (change feed read, per-entity grouping) once, likewise
        warm_changed = max(10, ENTITIES // 10_000)
        make_table(spark, warm_path, now + timedelta(seconds=1), warm_changed, start=0,
                   step=max(1, ENTITIES // 100 // warm_changed), age_s=1)
        warm_incr = sync_feature_view(spark, table_path=warm_path, view=warm_view, online=cfg,
                                      checkpoints=warm_cps, now=now + timedelta(seconds=2))
        assert warm_incr.mode == "incremental", warm_incr
        log("full sync")
        full, mem, _ = fresh_full_sync(spark, client, cfg, path, VIEW, now)
        assert client.dbsize() == ENTITIES + 1, client.dbsize()
        # The first sync of this size in the process also pays the JVM's compilation of the
        # large-volume paths (the small warm-up does not reach them): the same full sync again,
        # from an empty Redis and no checkpoint, is the steady rate of a warm executor.
        log("full sync again (warm)")
        full_warm, _, cps = fresh_full_sync(spark, client, cfg, path, VIEW, now)
        assert client.dbsize() == ENTITIES + 1, client.dbsize()
        log("the points query alone (noop sink)")
        plain_query_s = points_query_s(spark, path, VIEW, now)
        changed = int(ENTITIES * CHANGED)
        log(f"appending newer rows for {changed} entities (1%)")
        make_table(spark, path, now + timedelta(seconds=1), changed, start=0,
                   step=int(1 / CHANGED), age_s=1)
        log("incremental sync")
        incr = sync_feature_view(spark, table_path=path, view=VIEW, online=cfg, checkpoints=cps,
                                 now=now + timedelta(seconds=2))
        assert incr.mode == "incremental" and incr.entities_written == changed, incr
        agg = agg_part(spark, client, cfg, tmp, now, now_ms)
        spark.stop()

    full_rate = ENTITIES / full.duration_s
    warm_rate = ENTITIES / full_warm.duration_s
    result = {
        "entities": ENTITIES,
        "features": FEATURES,
        "warmup_sync_s": round(warm.duration_s, 2),
        "warmup_incremental_sync_s": round(warm_incr.duration_s, 2),
        "full_sync_s": round(full.duration_s, 2),
        "full_sync_entities_per_s": round(full_rate),
        "full_sync_warm_s": round(full_warm.duration_s, 2),
        "full_sync_warm_entities_per_s": round(warm_rate),
        "redis_benchmark_hset_p64_per_s": round(hset_rps),
        "redis_py_pipeline_set_per_s": round(redis_py),
        "writer_set_per_s": round(set_rate),
        "writer_script_per_s": round(script_rate),
        "script_cost_ratio": round(set_rate / script_rate, 2),
        "full_sync_vs_redis_benchmark": round(full_rate / hset_rps, 3),
        "full_sync_vs_redis_py": round(full_rate / redis_py, 2),
        "bytes_per_entity": round(mem / ENTITIES, 1),
        "raw_payload_bytes_per_entity": round(raw_payload, 1),
        "points_query_noop_s": round(plain_query_s, 2),
        "incremental_entities": changed,
        "incremental_sync_s": round(incr.duration_s, 2),
        "full_over_incremental_ratio": round(full.duration_s / incr.duration_s, 1),
        "full_warm_over_incremental_ratio": round(full_warm.duration_s / incr.duration_s, 1),
        "target_entities_per_s": 100_000,
        "target_full_over_incremental": 20,
        **agg,
        "agg_vs_plain_entities_per_s": round(agg["agg_full_sync_entities_per_s"] / full_rate, 3),
        "agg_vs_plain_warm_entities_per_s":
            round(agg["agg_full_sync_warm_entities_per_s"] / warm_rate, 3),
        "agg_vs_plain_bytes_per_entity":
            round(agg["agg_bytes_per_entity"] / (mem / ENTITIES), 2),
        "load_average_1m": os.getloadavg()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
