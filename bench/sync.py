"""Benchmark the online sync: 1M entities x 10 float features, Delta -> a fresh redis-server.

Prints progress to stderr and one JSON object (keys in bench/README.md) as the last stdout
line. Every rate sits next to a raw limit measured in the same run on the same server:
redis-benchmark HSET with -P 64, and the same SETs sent through redis-py pipelines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sparkfs.config import RedisConfig
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix
from sparkfs.online.sync import sync_feature_view
from sparkfs.online.view import Field, OnlineView
from sparkfs.online.writer import BulkWriter, WriteMode
from sparkfs.session import BASE_SPARK_CONF
from tests.redis_server import RedisServer

ENTITIES = int(os.environ.get("BENCH_ENTITIES", 1_000_000))
FEATURES = 10
CHANGED = 0.01
VIEW = OnlineView("bench_stats", "0123456789abcdef", (Field("entity_id", "int64"),),
                  tuple(Field(f"f{i}", "float64") for i in range(FEATURES)), timedelta(days=7))


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
                now_ms: int) -> float:
    """The bulk RESP writer alone (no Spark), in FRESH (SET) or CONDITIONAL (script) mode."""
    writer = BulkWriter(cfg, now_ms=now_ms, ttl_ms=VIEW.ttl_ms)
    exp = [now_ms + VIEW.ttl_ms] * 2000
    started = time.perf_counter()
    for off in range(0, len(keys), 2000):
        k, v = keys[off : off + 2000], values[off : off + 2000]
        writer.write(mode, k, v, exp[: len(k)])
    writer.close()
    return len(keys) / (time.perf_counter() - started)


def main() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    now = datetime.now(UTC).replace(microsecond=0)
    now_ms = int(now.timestamp() * 1000)
    tmp = Path(tempfile.mkdtemp(prefix="sparkfs-bench-sync-"))
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
        client.flushall()
        mem_before = int(client.info("memory")["used_memory"])
        cps = InMemoryCheckpointStore()
        log("full sync")
        full = sync_feature_view(spark, table_path=path, view=VIEW, online=cfg, checkpoints=cps,
                                 now=now)
        mem_after = int(client.info("memory")["used_memory"])
        assert client.dbsize() == ENTITIES + 1, client.dbsize()
        # The first sync of this size in the process also pays the JVM's compilation of the
        # large-volume paths (the small warm-up does not reach them): the same full sync again,
        # from an empty Redis and no checkpoint, is the steady rate of a warm executor.
        client.flushall()
        cps = InMemoryCheckpointStore()
        log("full sync again (warm)")
        full_warm = sync_feature_view(spark, table_path=path, view=VIEW, online=cfg,
                                      checkpoints=cps, now=now)
        assert full_warm.mode == "full" and client.dbsize() == ENTITIES + 1, client.dbsize()
        changed = int(ENTITIES * CHANGED)
        log(f"appending newer rows for {changed} entities (1%)")
        make_table(spark, path, now + timedelta(seconds=1), changed, start=0,
                   step=int(1 / CHANGED), age_s=1)
        log("incremental sync")
        incr = sync_feature_view(spark, table_path=path, view=VIEW, online=cfg, checkpoints=cps,
                                 now=now + timedelta(seconds=2))
        assert incr.mode == "incremental" and incr.entities_written == changed, incr
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
        "bytes_per_entity": round((mem_after - mem_before) / ENTITIES, 1),
        "raw_payload_bytes_per_entity": round(raw_payload, 1),
        "incremental_entities": changed,
        "incremental_sync_s": round(incr.duration_s, 2),
        "full_over_incremental_ratio": round(full.duration_s / incr.duration_s, 1),
        "full_warm_over_incremental_ratio": round(full_warm.duration_s / incr.duration_s, 1),
        "target_entities_per_s": 100_000,
        "target_full_over_incremental": 20,
        "load_average_1m": os.getloadavg()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
