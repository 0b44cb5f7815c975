"""Point-in-time join semantics against a brute-force oracle, plus validation errors.

Generated cases are batched: each hypothesis example packs many independent cases into one
DataFrame (``case_id`` is part of every key) and checks them all with one Spark job.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py4j.protocol import Py4JJavaError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.errors import ValidationError
from sparkfs.training import pit_join
from sparkfs.training.pit_join import FeatureSource, point_in_time_join, validate_spine

#: 2024-03-10 06:00 UTC: US daylight saving starts that day, which the time zone test needs.
BASE_MICROS = 1_710_050_400 * 1_000_000
MINUTE = 60_000_000
K1 = st.sampled_from(["a", "ab", "", None])
K2 = st.sampled_from(["bc", "c", None])
MINUTES = st.integers(0, 12)


def at(minutes_col: str) -> Column:
    """A timestamp column from whole minutes after BASE (zone-independent)."""
    return F.timestamp_micros(F.lit(BASE_MICROS) + F.col(minutes_col) * F.lit(MINUTE))


def minutes_of(column: str) -> Column:
    return ((F.unix_micros(F.col(column)) - F.lit(BASE_MICROS)) / F.lit(MINUTE)).cast("long")


# ---------------------------------------------------------------------------------- oracle


@dataclass(frozen=True)
class Spec:
    """A generated source: where its rows live and how it is joined."""

    name: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    ttl: int | None  # minutes
    delay: int  # minutes
    #: "none": no created time; "event": created breaks ties on E; "created": knowing time
    created: str = "none"


def _rank(row: dict[str, Any], spec: Spec) -> tuple[Any, ...]:
    """Greatest E, then (with created times) the latest created, a null one lowest, then ingest."""
    if spec.created == "none":
        return (row["e"], row["ing"])
    return (row["e"], row["c"] is not None, row["c"] or 0, row["ing"])


def oracle_row(
    spine_keys: dict[str, Any], t: int | None, rows: list[dict[str, Any]], spec: Spec
) -> tuple[Any, ...]:
    """The contract, literally: greatest E with E + D <= T and E > T - ttl (and, knowing time,
    created <= T); ties by created, then ingest."""
    empty = (None,) * (len(spec.values) + 1)
    if t is None or any(spine_keys[k] is None for k in spec.keys):
        return empty
    candidates = [
        r
        for r in rows
        if all(r[k] == spine_keys[k] for k in spec.keys)
        and r["e"] is not None
        and r["e"] + spec.delay <= t
        and (spec.created != "created" or (r["c"] is not None and r["c"] <= t))
    ]
    if not candidates:
        return empty
    best = max(candidates, key=lambda r: _rank(r, spec))
    if spec.ttl is not None and not best["e"] > t - spec.ttl:
        return empty
    return (*(best[v] for v in spec.values), best["e"])


# ------------------------------------------------------------------------------- generation


@st.composite
def feature_rows(draw: st.DrawFn, case: int, spec: Spec) -> list[dict[str, Any]]:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "k1": K1,
                    "k2": K2,
                    "e": st.one_of(MINUTES, MINUTES, MINUTES, st.none()),
                    "x": st.one_of(st.integers(0, 99), st.none()),
                    "y": st.sampled_from(["p", "q", None]),
                    # created: before, at and after the spine times; corrections share E
                    "c": st.one_of(st.integers(0, 15), st.integers(0, 15), st.none()),
                }
            ),
            max_size=8,
        )
    )
    if spec.created != "none" and rows:
        # corrections: more rows at the keys and event time of drawn ones, other values and
        # created times (ingested in random order, so ingestion alone would pick wrongly)
        again = draw(st.lists(st.sampled_from(rows), max_size=6))
        rows += [{**r, "x": draw(st.integers(0, 99)), "y": draw(st.sampled_from(["p", "q"])),
                  "c": draw(st.one_of(st.integers(0, 15), st.none()))} for r in again]
    # Unique, randomly ordered ingestion times: ties on E happen, ties on (E, ingest) do not.
    ingests = draw(st.permutations(range(len(rows))))
    return [{**r, "case": case, "ing": i} for r, i in zip(rows, ingests, strict=True)]


@st.composite
def spine_rows(draw: st.DrawFn, case: int) -> list[dict[str, Any]]:
    row = st.fixed_dictionaries(
        {
            "k1": K1,
            "k2": K2,
            "t": st.one_of(MINUTES, MINUTES, MINUTES, st.none()),
            "tag": st.integers(0, 2),
        }
    )
    rows = draw(st.lists(row, min_size=1, max_size=6))
    copies = draw(st.lists(st.sampled_from(rows), max_size=3))  # exact spine duplicates
    return [{**r, "case": case} for r in rows + copies]


TTL = st.integers(1, 6)
DELAY = st.integers(0, 3)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Spec], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    specs = [
        Spec("full", ("case", "k1", "k2"), ("x", "y"), draw(TTL), draw(DELAY)),
        # Same key set, other order: must share the first source's sort pass.
        Spec("same_keys", ("k2", "case", "k1"), ("x",), draw(st.none() | TTL), draw(DELAY)),
        Spec("k1_only", ("case", "k1"), ("x",), draw(TTL), draw(DELAY)),
        # Corrections: created breaks ties on E (same key set: shares the first sort pass).
        Spec("corrected", ("case", "k1", "k2"), ("x", "y"), draw(st.none() | TTL), draw(DELAY),
             created="event"),
        # Knowing time: usable from max(E + D, created).
        Spec("known", ("case", "k1", "k2"), ("x", "y"), draw(st.none() | TTL), draw(DELAY),
             created="created"),
        Spec("known_k1", ("case", "k1"), ("x",), draw(TTL), draw(DELAY), created="created"),
    ]
    n_cases = draw(st.integers(10, 60))
    spine = [r for c in range(n_cases) for r in draw(spine_rows(c))]
    feats = {s.name: [r for c in range(n_cases) for r in draw(feature_rows(c, s))] for s in specs}
    return specs, spine, feats


# ------------------------------------------------------------------------------- harness


def spine_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    data = [(r["case"], r["k1"], r["k2"], r["t"], r["tag"]) for r in rows]
    df = spark.createDataFrame(data, "case int, k1 string, k2 string, t long, tag int")
    return df.select("case", "k1", "tag", at("t").alias("event_timestamp"), "k2")


def feature_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    data = [(r["case"], r["k1"], r["k2"], r["e"], r["x"], r["y"], r["ing"], r.get("c")) for r in rows]
    schema = "case int, k1 string, k2 string, e long, x int, y string, ing long, c long"
    df = spark.createDataFrame(data, schema)
    return df.select(
        "case",
        "k1",
        "k2",
        at("e").alias("event_timestamp"),
        "x",
        "y",
        F.timestamp_micros(F.lit(BASE_MICROS) + F.col("ing")).alias("_ingested_at"),
        at("c").alias("_created_at"),
    )


def source(spec: Spec, df: DataFrame) -> FeatureSource:
    return FeatureSource(
        name=spec.name,
        df=df,
        keys=spec.keys,
        features=spec.values,
        output_names=tuple(f"{spec.name}__{v}" for v in spec.values),
        ttl=None if spec.ttl is None else timedelta(minutes=spec.ttl),
        availability_delay=timedelta(minutes=spec.delay),
        timestamp_output=f"{spec.name}__ts",
        created=spec.created != "none",
        availability="created" if spec.created == "created" else "event",
    )


def run_join(
    spark: SparkSession,
    specs: list[Spec],
    spine: list[dict[str, Any]],
    feats: dict[str, list[dict[str, Any]]],
) -> tuple[list[str], Counter[tuple[Any, ...]]]:
    sources = [source(s, feature_df(spark, feats[s.name])) for s in specs]
    out = point_in_time_join(spine_df(spark, spine), sources)
    ts_cols = {"event_timestamp", *(f"{s.name}__ts" for s in specs)}
    selected = out.select(
        *[minutes_of(c).alias(c) if c in ts_cols else F.col(c) for c in out.columns]
    )
    return out.columns, Counter(tuple(r) for r in selected.collect())


def expected(
    specs: Sequence[Spec], spine: list[dict[str, Any]], feats: dict[str, list[dict[str, Any]]]
) -> Counter[tuple[Any, ...]]:
    result: Counter[tuple[Any, ...]] = Counter()
    for r in spine:
        values: tuple[Any, ...] = (r["case"], r["k1"], r["tag"], r["t"], r["k2"])
        for spec in specs:
            values += oracle_row(r, r["t"], feats[spec.name], spec)
        result[values] += 1
    return result


# --------------------------------------------------------------------------------- tests


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_matches_brute_force_oracle(spark: SparkSession, scenario: Any) -> None:
    specs, spine, feats = scenario
    columns, got = run_join(spark, specs, spine, feats)
    assert columns[:5] == ["case", "k1", "tag", "event_timestamp", "k2"]
    assert got == expected(specs, spine, feats)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the patch is the same for every example
    ],
)
@given(scenarios())
def test_presort_key_is_only_a_hint(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, scenario: Any
) -> None:
    """The window's own sort decides the order: with a pre-sort key that is nearly constant (a
    1-bit key hash, time in ~13-day steps) every key collides and the rows reach the window's
    sort unordered, and the result is still the oracle's."""
    monkeypatch.setattr(pit_join, "_HASH_BITS", 1)
    monkeypatch.setattr(pit_join, "_COARSE_T_SHIFT", 40)
    specs, spine, feats = scenario
    _, got = run_join(spark, specs, spine, feats)
    assert got == expected(specs, spine, feats)


def test_rows_are_radix_presorted_before_the_window(spark: SparkSession) -> None:
    """The plan keeps the single-long pre-sort (what makes the window's sort cheap) under the
    window's own sort, which leads with the key hash."""
    spine = spark.createDataFrame([(1, 100)], "a long, t long").select(
        "a", at("t").alias("event_timestamp")
    )
    table = spark.createDataFrame([(1, 50, 5)], "a long, e long, v int").select(
        "a", at("e").alias("event_timestamp"), "v", at("e").alias("_ingested_at")
    )
    src = FeatureSource("fv", table, ("a",), ("v",), ("fv__v",), ttl=None)
    plan = point_in_time_join(spine, [src])._jdf.queryExecution().executedPlan().toString()
    sorts = re.findall(r"Sort \[(.*?)\], false", plan)
    assert any(s.startswith("(shiftleft(") and " ASC NULLS FIRST," not in s for s in sorts), plan
    assert any(s.startswith("__sfs_h") for s in sorts), plan
    assert "Window [" in plan


def test_session_time_zone_does_not_change_results(spark: SparkSession) -> None:
    """Same spine (timestamps and dates) under UTC and a DST-switching zone: same output."""
    spec = Spec("full", ("case", "k1", "k2"), ("x", "y"), ttl=90, delay=30)
    spine = [{"case": 0, "k1": "a", "k2": "bc", "t": m, "tag": 0} for m in range(0, 600, 7)]
    feats = [
        {"case": 0, "k1": "a", "k2": "bc", "e": m, "x": m, "y": None, "ing": m}
        for m in range(0, 600, 11)
    ]

    def run() -> list[tuple[Any, ...]]:
        out = point_in_time_join(
            spine_df(spark, spine).withColumn("day", F.to_date(F.lit("2024-03-11"))),
            [source(spec, feature_df(spark, feats))],
        )
        by_date = point_in_time_join(
            spine_df(spark, spine).withColumn("event_timestamp", F.to_date(F.lit("2024-03-10"))),
            [source(spec, feature_df(spark, feats))],
        )
        rows = out.select(
            minutes_of("event_timestamp"), minutes_of("full__ts"), "full__x"
        ).collect()
        date_rows = by_date.select(F.unix_date("event_timestamp"), "full__x").collect()
        return sorted(tuple(r) for r in rows) + sorted(tuple(r) for r in date_rows)

    utc = run()
    previous = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "America/New_York")
        other = run()
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert other == utc
    # The window crosses the DST switch (07:00 UTC on 2024-03-10) and some rows matched.
    assert sum(1 for r in utc if r[-1] is not None) > 10
    # Dates mean midnight UTC: on 2024-03-10 00:00 UTC no feature (from 06:00 UTC) exists yet.
    assert all(r[1] is None for r in utc if len(r) == 2)


def test_worked_example_from_docs(spark: SparkSession) -> None:
    """The example in docs/point-in-time.md, value by value."""
    spine = spark.createDataFrame(
        [
            (1, "2024-01-10 12:00:00", "a"),
            (1, "2024-01-10 12:00:00", "a"),
            (1, "2024-01-10 12:30:00", "b"),
            (1, "2024-01-20 00:00:00", "c"),
            (2, "2024-01-10 12:00:00", "d"),
            (None, "2024-01-10 12:00:00", "e"),
        ],
        "user_id int, ts string, label string",
    ).select("user_id", F.to_timestamp("ts").alias("event_timestamp"), "label")
    table = spark.createDataFrame(
        [
            (1, "2024-01-10 11:00:00", 10, "2024-01-10 11:05:00"),
            (1, "2024-01-10 11:00:00", 11, "2024-01-10 11:45:00"),  # same E, ingested later
            (1, "2024-01-10 11:50:00", None, "2024-01-10 11:51:00"),  # not available until 12:20
            (2, "2024-01-10 11:59:00", 20, "2024-01-10 12:00:00"),
            (None, "2024-01-10 09:00:00", 99, "2024-01-10 09:00:00"),
        ],
        "user_id bigint, e string, clicks int, i string",
    ).select(
        "user_id",
        F.to_timestamp("e").alias("event_timestamp"),
        "clicks",
        F.to_timestamp("i").alias("_ingested_at"),
    )
    src = FeatureSource(
        "user_clicks",
        table,
        ("user_id",),
        ("clicks",),
        ("user_clicks__clicks",),
        ttl=timedelta(days=7),
        availability_delay=timedelta(minutes=30),
        timestamp_output="user_clicks__ts",
    )
    out = point_in_time_join(spine, [src])
    assert out.columns == [
        "user_id",
        "event_timestamp",
        "label",
        "user_clicks__clicks",
        "user_clicks__ts",
    ]
    got = sorted(
        (r.label, r.user_clicks__clicks, r.user_clicks__ts and r.user_clicks__ts.strftime("%H:%M"))
        for r in out.collect()
    )
    assert got == [
        ("a", 11, "11:00"),
        ("a", 11, "11:00"),
        ("b", None, "11:50"),  # the 11:50 row is available at 12:20 and its value is null
        ("c", None, None),  # 11:50 + 7 days < 20th: outside the ttl
        ("d", None, None),  # 11:59 + 30 min > 12:00: not available yet
        ("e", None, None),  # null key matches nothing, not even a null-keyed feature row
    ]


def test_knowing_time_worked_example_from_docs(spark: SparkSession) -> None:
    """The corrections example in docs/point-in-time.md, in both availability modes."""
    spine = spark.createDataFrame(
        [(7, f"2024-01-{d}") for d in ("09 12:00", "10 00:30", "10 12:00", "11 12:00", "12 12:00")],
        "account_id long, ts string",
    ).select("account_id", F.to_timestamp("ts").alias("event_timestamp"))
    table = spark.createDataFrame(
        [
            (7, "2024-01-10 00:00", 100, "2024-01-10 01:00"),
            (7, "2024-01-11 00:00", 120, "2024-01-11 01:00"),
            (7, "2024-01-11 00:00", 110, "2024-01-12 09:00"),  # the correction
            (7, "2024-01-09 00:00", 80, "2024-01-13 00:00"),  # a late record
        ],
        "account_id long, e string, balance int, c string",
    ).select(
        "account_id",
        F.to_timestamp("e").alias("event_timestamp"),
        "balance",
        F.to_timestamp("c").alias("_created_at"),
        F.to_timestamp(F.lit("2024-01-14 00:00")).alias("_ingested_at"),
    )
    sources = [
        FeatureSource("b_" + mode, table, ("account_id",), ("balance",), (mode,), ttl=None,
                      created=True, availability=mode)  # type: ignore[arg-type]
        for mode in ("event", "created")
    ]
    out = point_in_time_join(spine, sources).orderBy("event_timestamp")
    got = [(r.event_timestamp.strftime("%d %H:%M"), r.event, r.created) for r in out.collect()]
    assert got == [
        ("09 12:00", 80, None),
        ("10 00:30", 100, None),
        ("10 12:00", 100, 100),
        ("11 12:00", 110, 120),
        ("12 12:00", 110, 110),
    ]


def test_integral_keys_of_different_widths_match(spark: SparkSession) -> None:
    spine = spark.createDataFrame([(1, 7, 100)], "a int, b short, t long").select(
        "a", "b", at("t").alias("event_timestamp")
    )
    table = spark.createDataFrame([(1, 7, 50, 5)], "a long, b int, e long, v int").select(
        "a", "b", at("e").alias("event_timestamp"), "v", at("e").alias("_ingested_at")
    )
    src = FeatureSource("fv", table, ("a", "b"), ("v",), ("fv__v",), ttl=None)
    out = point_in_time_join(spine, [src])
    assert dict(zip(out.columns, [f.dataType.simpleString() for f in out.schema], strict=True)) == {
        "a": "int",
        "b": "smallint",
        "event_timestamp": "timestamp",
        "fv__v": "int",
    }
    assert [tuple(r) for r in out.select("a", "b", "fv__v").collect()] == [(1, 7, 5)]


def test_odd_spine_columns_pass_through_unchanged(spark: SparkSession) -> None:
    """Maps, structs, arrays and names with dots or backticks travel through the sort."""
    spine = spark.sql(
        "SELECT 'u' AS id, timestamp_micros(1000) AS event_timestamp, map('k', 1) AS `m.x`, "
        "named_struct('p', 1.5) AS `odd``name`, array(1, 2) AS arr, CAST(NULL AS string) AS n"
    )
    table = spark.sql(
        "SELECT 'u' AS id, timestamp_micros(0) AS event_timestamp, 3 AS v, "
        "timestamp_micros(0) AS _ingested_at"
    )
    out = point_in_time_join(spine, [FeatureSource("fv", table, ("id",), ("v",), ("fv__v",), None)])
    # Names, order and types are kept; columns may become nullable (documented).
    assert [(f.name, f.dataType) for f in out.schema.fields[:-1]] == [
        (f.name, f.dataType) for f in spine.schema.fields
    ]
    assert out.collect()[0].asDict() == {**spine.collect()[0].asDict(), "fv__v": 3}


def test_no_sources_returns_the_spine(spark: SparkSession) -> None:
    spine = spark.sql("SELECT 1 AS id, timestamp_micros(0) AS event_timestamp")
    assert point_in_time_join(spine, []).collect() == spine.collect()


def test_hot_key_spills_instead_of_holding_the_key_in_memory(spark: SparkSession) -> None:
    """One key with 45k rows (spine + features) under a window buffer limit of 4096 rows: correct, and it spilled."""
    n = 30_000  # spine; plus 15k feature rows
    spine = spark.range(n).select(
        F.lit("hot").alias("k"), at("id").alias("event_timestamp"), F.col("id").alias("i")
    )
    table = spark.range(0, n, 2).select(
        F.lit("hot").alias("k"),
        at("id").alias("event_timestamp"),
        F.col("id").alias("v"),
        at("id").alias("_ingested_at"),
    )
    src = FeatureSource("fv", table, ("k",), ("v",), ("fv__v",), ttl=timedelta(minutes=2))
    limits = {
        "spark.sql.windowExec.buffer.in.memory.threshold": "4096",
        "spark.sql.windowExec.buffer.spill.threshold": "4096",
    }
    previous = {k: spark.conf.get(k, None) for k in limits}
    try:
        for key, value in limits.items():
            spark.conf.set(key, value)
        out = point_in_time_join(spine, [src])
        wrong = out.where(F.col("fv__v").isNull() | (F.col("fv__v") != F.col("i") - F.col("i") % 2))
        job_group = "sparkfs-hot-key"
        spark.sparkContext.setJobGroup(job_group, "hot key")
        assert wrong.count() == 0
        spilled = _spill_bytes(spark, job_group)
    finally:
        spark.sparkContext.setJobGroup("", "")
        for key, value in previous.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    assert spilled > 0


def _spill_bytes(spark: SparkSession, job_group: str) -> int:
    """Bytes spilled to disk by the stages of ``job_group`` (from Spark's status store)."""
    tracker = spark.sparkContext.statusTracker()
    stage_ids = set()
    for job in tracker.getJobIdsForGroup(job_group):
        info = tracker.getJobInfo(job)
        stage_ids |= set(info.stageIds if info else [])
    sc = spark.sparkContext._jsc.sc()  # type: ignore[union-attr]
    # The status store is fed by the listener bus, asynchronously: wait until it has seen
    # every event of the job, or a stage the job ran may not be in the store yet.
    sc.listenerBus().waitUntilEmpty()
    store = sc.statusStore()
    total = 0
    for stage in stage_ids:
        try:
            total += int(store.lastStageAttempt(stage).diskBytesSpilled())
        except Py4JJavaError as err:  # a stage the job skipped (its shuffle reused) never ran
            if "NoSuchElementException" not in str(err.java_exception):
                raise
    return total


# ----------------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def frames(spark: SparkSession) -> dict[str, DataFrame]:
    spine = spark.sql("SELECT 1 AS user_id, 'x' AS city, timestamp_micros(0) AS event_timestamp")
    table = spark.sql(
        "SELECT CAST(1 AS bigint) AS user_id, 'x' AS city, timestamp_micros(0) AS event_timestamp, "
        "2.0 AS amount, timestamp_micros(0) AS _ingested_at"
    )
    return {"spine": spine, "table": table}


def fv(table: DataFrame, **changes: Any) -> FeatureSource:
    base: dict[str, Any] = {
        "name": "tx",
        "df": table,
        "keys": ("user_id",),
        "features": ("amount",),
        "output_names": ("tx__amount",),
        "ttl": timedelta(days=1),
    }
    return FeatureSource(**{**base, **changes})


def spine_with(spine: DataFrame, **columns: str) -> DataFrame:
    return spine.selectExpr("*", *[f"{expr} AS `{name}`" for name, expr in columns.items()])


CASES: list[tuple[str, Any, str]] = [
    (
        "missing timestamp",
        lambda s, t: (s.drop("event_timestamp"), [fv(t)]),
        "no timestamp column 'event_timestamp'",
    ),
    (
        "string timestamp",
        lambda s, t: (s.withColumn("event_timestamp", F.lit("2024-01-01")), [fv(t)]),
        "has type string",
    ),
    (
        "ntz timestamp",
        lambda s, t: (
            s.withColumn("event_timestamp", F.expr("TIMESTAMP_NTZ'2024-01-01 00:00:00'")),
            [fv(t)],
        ),
        "to_utc_timestamp",
    ),
    (
        "long timestamp",
        lambda s, t: (s.withColumn("event_timestamp", F.lit(5)), [fv(t)]),
        "has type int",
    ),
    ("missing key", lambda s, t: (s.drop("user_id"), [fv(t)]), "spine has no key column 'user_id'"),
    (
        "key type",
        lambda s, t: (s.withColumn("user_id", F.lit("1")), [fv(t)]),
        "key column 'user_id' has types that cannot match",
    ),
    (
        "key type double",
        lambda s, t: (s.withColumn("user_id", F.lit(1.0)), [fv(t)]),
        "spine: double",
    ),
    (
        "collision with spine",
        lambda s, t: (s, [fv(t, output_names=("city",))]),
        "output column 'city'",
    ),
    (
        "collision case-insensitive",
        lambda s, t: (s, [fv(t, output_names=("CITY",))]),
        "output column 'CITY'",
    ),
    (
        "collision between views",
        lambda s, t: (s, [fv(t), fv(t, name="tx2")]),
        "collides with a column of feature view 'tx'",
    ),
    (
        "timestamp output collision",
        lambda s, t: (s, [fv(t, timestamp_output="event_timestamp")]),
        "output column 'event_timestamp'",
    ),
    (
        "feature missing",
        lambda s, t: (s, [fv(t, features=("nope",), output_names=("o",))]),
        "no column 'nope'",
    ),
    (
        "table without _ingested_at",
        lambda s, t: (s, [fv(t.drop("_ingested_at"))]),
        "no column '_ingested_at'",
    ),
    (
        "table without _created_at",
        lambda s, t: (s, [fv(t, created=True)]),
        "no column '_created_at'",
    ),
    (
        "knowing time without created",
        lambda s, t: (s, [fv(t, availability="created")]),
        "availability 'created' needs created=True",
    ),
    (
        "created not a timestamp",
        lambda s, t: (s, [fv(t.withColumn("_created_at", F.lit(1)), created=True)]),
        "column '_created_at' has type int",
    ),
    ("names count", lambda s, t: (s, [fv(t, output_names=())]), "1 features but 0 output names"),
    ("ttl", lambda s, t: (s, [fv(t, ttl=timedelta(0))]), "ttl must be positive"),
    (
        "delay",
        lambda s, t: (s, [fv(t, availability_delay=timedelta(seconds=-1))]),
        "must not be negative",
    ),
    (
        "duplicate spine columns",
        lambda s, t: (s.select("*", F.col("city").alias("City")), [fv(t)]),
        "duplicate columns",
    ),
    (
        "table timestamp",
        lambda s, t: (s, [fv(t.withColumn("event_timestamp", F.lit("x")))]),
        "feature view 'tx' column 'event_timestamp' has type string",
    ),
]


@pytest.mark.parametrize(("label", "build", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_before_any_job(
    spark: SparkSession, frames: dict[str, DataFrame], label: str, build: Any, message: str
) -> None:
    spine, sources = build(frames["spine"], frames["table"])
    tracker = spark.sparkContext.statusTracker()
    group = f"validation-{label}"
    spark.sparkContext.setJobGroup(group, label)
    try:
        with pytest.raises(ValidationError) as err:
            point_in_time_join(spine, sources)
    finally:
        spark.sparkContext.setJobGroup("", "")
    assert message in str(err.value)
    assert list(tracker.getJobIdsForGroup(group)) == []


def test_valid_input_passes_validation(frames: dict[str, DataFrame]) -> None:
    spine = frames["spine"].withColumn("event_timestamp", F.to_date(F.lit("2024-01-01")))
    validate_spine(spine, [fv(frames["table"])], "event_timestamp")
    keyed_by_city = fv(frames["table"], name="c", keys=("city",), output_names=("c__amount",))
    validate_spine(spine, [fv(frames["table"]), keyed_by_city], "event_timestamp")
