"""Benchmark: sparkfs point_in_time_join against join-then-row_number and DuckDB ASOF JOIN.

Generates a spine and three feature views with ``spark.range`` and writes them to Parquet in a
temporary directory first, so every method reads the same files. Each output is materialized
(Spark: ``write.format("noop")``; DuckDB: ``CREATE TABLE``). Progress goes to stderr; the last
stdout line is one JSON object (keys documented in bench/README.md).

    python bench/pit_join.py                       # 1M spine x 10M feature rows, growth to 4M
    python bench/pit_join.py --growth-spine-rows 0 # skip the 4M growth run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sparkfs.session import BASE_SPARK_CONF
from sparkfs.training.pit_join import FeatureSource, point_in_time_join

START = 1_672_531_200  # 2023-01-01 UTC, seconds
SPAN = 365 * 86_400


@dataclass(frozen=True)
class View:
    name: str
    key: str
    features: tuple[str, ...]
    ttl: timedelta | None
    delay: timedelta


DEBUGGING = "spark.python.sql.dataFrameDebugging.enabled"
VIEWS = (
    View("user_profile", "user_id", ("age", "score"), None, timedelta(0)),
    View("user_txn", "user_id", ("amount", "n_txn"), timedelta(days=30), timedelta(hours=1)),
    View("merchant_risk", "merchant_id", ("risk",), timedelta(days=7), timedelta(minutes=10)),
)


def log(msg: str) -> None:
    print(f"[pit-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rand_mod(seed: int, n: int) -> F.Column:
    return F.pmod(F.xxhash64(F.col("id"), F.lit(seed)), F.lit(n))


def write_spine(spark: SparkSession, rows: int, users: int, merchants: int, path: str) -> None:
    spark.range(rows).select(
        F.col("id").alias("spine_id"),
        rand_mod(1, users).alias("user_id"),
        rand_mod(2, merchants).alias("merchant_id"),
        F.timestamp_seconds(F.lit(START) + rand_mod(3, SPAN)).alias("event_timestamp"),
        (rand_mod(4, 2) == 1).alias("label"),
    ).write.mode("overwrite").parquet(path)


def write_view(spark: SparkSession, view: View, rows: int, keys: int, seed: int, path: str) -> None:
    ts = F.timestamp_seconds(F.lit(START) + rand_mod(seed + 1, SPAN))
    values = {
        "age": rand_mod(seed + 2, 90).cast("int"),
        "score": rand_mod(seed + 3, 1000) / 1000.0,
        "amount": rand_mod(seed + 4, 100_000) / 100.0,
        "n_txn": rand_mod(seed + 5, 50),
        "risk": rand_mod(seed + 6, 100) / 100.0,
    }
    spark.range(rows).select(
        rand_mod(seed, keys).alias(view.key),
        ts.alias("event_timestamp"),
        *[values[f].alias(f) for f in view.features],
        (ts + F.make_interval(secs=rand_mod(seed + 7, 3600))).alias("_ingested_at"),
    ).write.mode("overwrite").parquet(path)


def sources(spark: SparkSession, root: str) -> list[FeatureSource]:
    return [
        FeatureSource(
            name=v.name,
            df=spark.read.parquet(f"{root}/{v.name}"),
            keys=(v.key,),
            features=v.features,
            output_names=tuple(f"{v.name}__{f}" for f in v.features),
            ttl=v.ttl,
            availability_delay=v.delay,
        )
        for v in VIEWS
    ]


def join_row_number(spine: DataFrame, srcs: list[FeatureSource]) -> DataFrame:
    """The straightforward way: range join on key and time, keep the newest per spine row."""
    out = spine
    t = F.unix_micros(F.col("event_timestamp"))
    for s in srcs:
        key = s.keys[0]
        f = s.df.select(
            F.col(key).alias("__k"),
            F.unix_micros("event_timestamp").alias("__e"),
            F.col("_ingested_at").alias("__i"),
            *[F.col(c).alias(o) for c, o in zip(s.features, s.output_names, strict=True)],
        )
        cond = (F.col(key) == F.col("__k")) & (
            F.col("__e") + F.lit(s.availability_delay // timedelta(microseconds=1)) <= t
        )
        if s.ttl is not None:
            cond = cond & (F.col("__e") > t - F.lit(s.ttl // timedelta(microseconds=1)))
        newest = Window.partitionBy("spine_id").orderBy(F.desc("__e"), F.desc("__i"))
        out = (
            out.join(f, cond, "left")
            .withColumn("__rn", F.row_number().over(newest))
            .where("__rn = 1")
            .drop("__k", "__e", "__i", "__rn")
        )
    return out


def duckdb_asof(root: str, spine_dir: str, threads: int) -> float:
    con = duckdb.connect()
    con.execute(f"SET threads={threads}; SET TimeZone='UTC'; SET memory_limit='4GB'")
    con.execute(f"SET temp_directory='{root}/duckdb_tmp'")
    selects, joins = ["s.*"], []
    for i, v in enumerate(VIEWS):
        a = f"v{i}"
        delay_us = v.delay // timedelta(microseconds=1)
        cols = ", ".join(v.features)
        joins.append(
            f"ASOF LEFT JOIN (SELECT {v.key}, event_timestamp AS e, "
            f"event_timestamp + INTERVAL ({delay_us}) MICROSECOND AS avail, {cols} "
            f"FROM read_parquet('{root}/{v.name}/*.parquet')) {a} "
            f"ON s.{v.key} = {a}.{v.key} AND s.event_timestamp >= {a}.avail"
        )
        ok = "TRUE"
        if v.ttl is not None:
            ttl_us = v.ttl // timedelta(microseconds=1)
            ok = f"{a}.e > s.event_timestamp - INTERVAL ({ttl_us}) MICROSECOND"
        selects += [f"CASE WHEN {ok} THEN {a}.{f} END AS {v.name}__{f}" for f in v.features]
    sql = (
        f"CREATE TABLE out AS SELECT {', '.join(selects)} "
        f"FROM read_parquet('{spine_dir}/*.parquet') s {' '.join(joins)}"
    )
    started = time.perf_counter()
    con.execute(sql)
    elapsed = time.perf_counter() - started
    n = con.execute("SELECT count(*) FROM out").fetchone()
    log(f"duckdb rows={n[0] if n else '?'}")
    con.close()
    return elapsed


def timed_spark(
    spark: SparkSession, label: str, build: Callable[[], DataFrame], limit_s: float
) -> float | None:
    """Seconds to write ``build()`` to the noop sink, or None if cancelled after ``limit_s``."""
    group = f"bench-{label}"
    spark.sparkContext.setJobGroup(group, label, interruptOnCancel=True)
    timer = threading.Timer(limit_s, lambda: spark.sparkContext.cancelJobGroup(group))
    started = time.perf_counter()
    timer.start()
    try:
        build().write.format("noop").mode("overwrite").save()
        return time.perf_counter() - started
    except Exception as exc:  # cancelled by the timer
        log(f"{label}: stopped after {time.perf_counter() - started:.0f}s ({type(exc).__name__})")
        return None
    finally:
        timer.cancel()
        spark.sparkContext.setJobGroup("", "")


def _filtered(
    spark: SparkSession, root: str, spine_dir: str, users: int, merchants: int
) -> tuple[DataFrame, list[FeatureSource]]:
    """The inputs restricted to 1% of users and merchants (same plans, far less data)."""
    limits = {"user_id": max(1, users // 100), "merchant_id": max(1, merchants // 100)}
    small = (F.col("user_id") < limits["user_id"]) & (F.col("merchant_id") < limits["merchant_id"])
    srcs = [
        FeatureSource(**{**s.__dict__, "df": s.df.where(F.col(s.keys[0]) < limits[s.keys[0]])})
        for s in sources(spark, root)
    ]
    return spark.read.parquet(spine_dir).where(small), srcs


def shuffle_only(spark: SparkSession, spine_dir: str, root: str) -> float:
    """Seconds to hash-shuffle the rows ``point_in_time_join`` sorts, and nothing else.

    For each key set, the engine's own union of spine and feature rows (same columns, same
    widths) is repartitioned by key and written to the noop sink: no sort, no window. Every
    key set starts from the plain spine (the real second pass also carries the first pass's
    outputs), so this is a floor under any method that shuffles the rows once per key set.
    """
    from sparkfs.training import pit_join as engine
    from sparkfs.training.key_groups import group_by_keys

    spine = spark.read.parquet(spine_dir)
    total = 0.0
    for group in group_by_keys(sources(spark, root)):
        union, keys = engine._union(spine, group, "event_timestamp")
        started = time.perf_counter()
        union.repartition(*keys, engine._BUCKET).write.format("noop").mode("overwrite").save()
        total += time.perf_counter() - started
    return total


def warm(spark: SparkSession, root: str, users: int, merchants: int) -> None:
    spine, srcs = _filtered(spark, root, f"{root}/spine", users, merchants)
    point_in_time_join(spine, srcs).write.format("noop").mode("overwrite").save()
    join_row_number(spine, srcs).write.format("noop").mode("overwrite").save()


def check(spark: SparkSession, root: str) -> int:
    """Rows in one output and not the other (the baseline is the reference semantics)."""
    spine = spark.read.parquet(f"{root}/spine")
    ours = point_in_time_join(spine, sources(spark, root))
    theirs = join_row_number(spine, sources(spark, root)).select(*ours.columns)
    return ours.exceptAll(theirs).count() + theirs.exceptAll(ours).count()


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--spine-rows", type=int, default=1_000_000)
    p.add_argument("--feature-rows", type=int, default=10_000_000, help="over 3 views")
    p.add_argument("--growth-spine-rows", type=int, default=4_000_000, help="0 to skip")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--merchants", type=int, default=10_000)
    p.add_argument("--baseline-limit-s", type=float, default=1200, help="cancel the baseline after")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--workdir", default=None, help="default: a new temp dir, removed at exit")
    p.add_argument("--check", action="store_true", help="also check sparkfs == baseline (slow)")
    args = p.parse_args()

    root = args.workdir or tempfile.mkdtemp(prefix="sparkfs-pit-bench-")
    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .appName("sparkfs-pit-bench")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # as in every session sparkfs creates (sparkfs.session.BASE_SPARK_CONF): no Python
        # call-site capture per DataFrame call (~0.2-0.5 s of building the join's query)
        .config(DEBUGGING, BASE_SPARK_CONF[DEBUGGING])
        .config("spark.sql.shuffle.partitions", str(8 * args.cores))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.local.dir", f"{root}/spark_tmp")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    result: dict[str, object] = {
        "spine_rows": args.spine_rows,
        "feature_rows": args.feature_rows,
        "feature_views": len(VIEWS),
        "users": args.users,
        "merchants": args.merchants,
        "cores": args.cores,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    try:
        log(f"generating data under {root}")
        started = time.perf_counter()
        write_spine(spark, args.spine_rows, args.users, args.merchants, f"{root}/spine")
        per_view = args.feature_rows // len(VIEWS)
        for i, v in enumerate(VIEWS):
            keys = args.users if v.key == "user_id" else args.merchants
            write_view(spark, v, per_view, keys, 10 * (i + 1), f"{root}/{v.name}")
        result["generate_s"] = round(time.perf_counter() - started, 1)

        def ours(spine_dir: str) -> Callable[[], DataFrame]:
            return lambda: point_in_time_join(spark.read.parquet(spine_dir), sources(spark, root))

        if args.check:
            mismatches = check(spark, root)
            result["check_mismatched_rows"] = mismatches
            log(f"check: {mismatches} mismatched rows between sparkfs and the baseline")
        log("warm-up (JIT, codegen) on 1% of the keys ...")
        warm(spark, root, args.users, args.merchants)
        log("sparkfs point_in_time_join ...")
        sfs = timed_spark(spark, "sparkfs", ours(f"{root}/spine"), 3600)
        log(f"sparkfs: {sfs:.1f}s" if sfs else "sparkfs: failed")
        log("sparkfs point_in_time_join again (the first full-size run in a process is slower) ...")
        sfs2 = timed_spark(spark, "sparkfs_again", ours(f"{root}/spine"), 3600)
        log(f"sparkfs second run: {sfs2:.1f}s" if sfs2 else "sparkfs second run: failed")
        log("floor: the same union rows hash-shuffled, no sort, no window ...")
        floor = shuffle_only(spark, f"{root}/spine", root)
        log(f"shuffle only: {floor:.1f}s")
        log("join-then-row_number baseline ...")
        base = timed_spark(
            spark,
            "join_row_number",
            lambda: join_row_number(spark.read.parquet(f"{root}/spine"), sources(spark, root)),
            args.baseline_limit_s,
        )
        log(f"join-then-row_number: {base:.1f}s" if base else "join-then-row_number: cancelled")
        log("duckdb ASOF JOIN ...")
        duck = duckdb_asof(root, f"{root}/spine", args.cores)
        log(f"duckdb: {duck:.1f}s")
        result |= {
            "sparkfs_s": round(sfs, 1) if sfs else None,
            "join_row_number_s": round(base, 1) if base else None,
            "join_row_number_cancelled_after_s": None if base else args.baseline_limit_s,
            "speedup_vs_join_row_number": ratio(base or args.baseline_limit_s, sfs),
            "duckdb_asof_s": round(duck, 1),
            "sparkfs_over_duckdb": ratio(sfs, duck),
            "sparkfs_second_run_s": round(sfs2, 1) if sfs2 else None,
            "second_run_over_duckdb": ratio(sfs2, duck),
            "shuffle_only_s": round(floor, 1),
            "shuffle_only_over_duckdb": ratio(floor, duck),
        }
        if args.growth_spine_rows:
            log(f"growth: {args.growth_spine_rows} spine rows ...")
            grown = f"{root}/spine_growth"
            write_spine(spark, args.growth_spine_rows, args.users, args.merchants, grown)
            sfs_g = timed_spark(spark, "sparkfs_growth", ours(grown), 3600)
            duck_g = duckdb_asof(root, grown, args.cores)
            log(f"growth: sparkfs {sfs_g}s, duckdb {duck_g:.1f}s")
            result |= {
                "growth_spine_rows": args.growth_spine_rows,
                "sparkfs_growth_s": round(sfs_g, 1) if sfs_g else None,
                "sparkfs_growth_ratio": ratio(sfs_g, sfs),
                "duckdb_growth_s": round(duck_g, 1),
                "duckdb_growth_ratio": ratio(duck_g, duck),
            }
        result["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        spark.stop()
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
