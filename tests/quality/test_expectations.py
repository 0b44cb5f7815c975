"""Every expectation type, passing and failing, evaluated on one DataFrame in one aggregation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkfs.definitions import FeatureView
from sparkfs.quality.check import compile_rules, evaluate
from sparkfs.quality.rules import ROWS, dupes_alias

SCHEMA = T.StructType([
    T.StructField("user_id", T.LongType()),
    T.StructField("event_timestamp", T.TimestampType()),
    T.StructField("age", T.IntegerType()),
    T.StructField("country", T.StringType()),
    T.StructField("email", T.StringType()),
    T.StructField("score", T.DoubleType()),
])
T1, T2, T3 = (datetime(2026, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3))
ROWS_ = [
    (1, T1, 30, "US", "a@x.com", 1.0),
    (2, T1, 200, "US", "bad-email", 2.0),
    (3, T2, None, "ZZ", None, 3.0),
    (3, T2, 40, "DE", "c@x.com", None),  # same (user_id, event time) as the row above
    (4, T3, 15, "GB", "d@x.com", 4.0),
    (None, T3, 20, "US", "e@x.com", 5.0),
]

# label -> (expectation, passed, failed_count)
CASES: dict[str, tuple[dict[str, Any], bool, int | None]] = {
    "nn_user": ({"type": "not_null", "column": "user_id"}, False, 1),
    "nn_country": ({"type": "not_null", "column": "country", "severity": "warn"}, True, 0),
    "nn_time": ({"type": "not_null", "column": "updated_at"}, True, 0),  # the source name maps to event_timestamp
    "uniq_default": ({"type": "unique"}, False, 1),
    "uniq_email": ({"type": "unique", "columns": ["email"]}, True, 0),
    "age_range": ({"type": "range", "column": "age", "min": 0, "max": 150}, False, 1),
    "age_min": ({"type": "range", "column": "age", "min": 10}, True, 0),
    "country_allowed": ({"type": "allowed_values", "column": "country", "values": ["US", "DE", "GB"]}, False, 1),
    "age_allowed": ({"type": "allowed_values", "column": "age", "values": [30, 200, 40, 15, 20]}, True, 0),
    "email_regex": ({"type": "regex", "column": "email", "pattern": "^[^@]+@[^@]+$", "severity": "warn"}, False, 1),
    "email_any": ({"type": "regex", "column": "email", "pattern": ".*"}, True, 0),
    "age_nulls_strict": ({"type": "max_null_fraction", "column": "age", "fraction": 0.1}, False, 1),
    "age_nulls_loose": ({"type": "max_null_fraction", "column": "age", "fraction": 0.5}, True, 1),
    "rows_ok": ({"type": "row_count", "min": 1, "max": 10}, True, None),
    "rows_few": ({"type": "row_count", "min": 10}, False, 6),
    "score_nonneg": ({"type": "sql", "predicate": "score >= 0"}, False, 1),  # NULL counts as a violation
    "age_sql": ({"type": "sql", "predicate": "age < 1000 OR age IS NULL"}, True, 0),
    "fresh_day": ({"type": "freshness", "max_age": "1d"}, True, None),
    "fresh_minute": ({"type": "freshness", "max_age": "1m"}, False, None),
    "count_change": ({"type": "max_change", "metric": "row_count", "max_fraction": 0.5}, True, None),
    "score_change": ({"type": "max_change", "metric": "mean", "column": "score", "max_fraction": 0.5}, False, None),
}


def view_with(expectations: list[dict[str, Any]]) -> FeatureView:
    return FeatureView.model_validate({
        "name": "v", "entities": ["user"], "source": {"type": "delta", "path": "x"},
        "timestamp_column": "updated_at", "owner": "t",
        "features": [{"name": "age", "type": "int32"}, {"name": "country", "type": "string"},
                     {"name": "email", "type": "string"}, {"name": "score", "type": "float64"}],
        "expectations": expectations,
    })


def jobs_of(spark: SparkSession, group: str, action: Any) -> tuple[Any, int]:
    spark.sparkContext.setJobGroup(group, group)
    try:
        result = action()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return result, len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_every_expectation_type_passing_and_failing(spark: SparkSession) -> None:
    batch = spark.createDataFrame(ROWS_, SCHEMA)
    view = view_with([{**exp, "name": label} for label, (exp, _, _) in CASES.items()])
    rules = compile_rules(view, ["user_id"], batch)
    previous = {"row_count": 6, "mean:score": 1.0}  # mean score is 3.0 now: a 200% change
    rows, metrics, results = evaluate(batch, rules, previous, now=T3 + timedelta(hours=1))
    assert rows == 6 and metrics["row_count"] == 6 and metrics["mean:score"] == 3.0
    got = {r.label: (r.passed, r.failed_count) for r in results}
    assert got == {label: (passed, count) for label, (_, passed, count) in CASES.items()}
    by_label = {r.label: r for r in results}
    assert [s["age"] for s in by_label["age_range"].samples] == [200]
    assert [s["user_id"] for s in by_label["uniq_default"].samples] == [3]
    assert by_label["uniq_default"].samples[0]["count"] == 2
    assert [s["country"] for s in by_label["country_allowed"].samples] == ["ZZ"]
    assert by_label["score_nonneg"].samples[0]["score"] is None
    assert by_label["score_change"].observed["change"] == 2.0
    assert by_label["email_regex"].blocking is False and by_label["age_range"].blocking is True
    assert all(not r.samples for r in results if r.passed)


def test_rules_add_no_pass_over_the_data(spark: SparkSession) -> None:
    """All rules ride on one aggregation: 20 more rules add no job to what one unique rule runs."""
    batch = spark.createDataFrame(ROWS_, SCHEMA).where(F.col("user_id").isNotNull() & (F.col("user_id") != 3))
    passing = [{**exp, "name": label} for label, (exp, ok, _) in CASES.items() if ok and exp["type"] != "unique"]
    passing.append({"type": "unique"})
    everything = compile_rules(view_with(passing), ["user_id"], batch)
    one = compile_rules(view_with([{"type": "unique"}]), ["user_id"], batch)
    (_, _, results), many_jobs = jobs_of(spark, "q-many", lambda: evaluate(batch, everything, None, T3))
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    _, one_jobs = jobs_of(spark, "q-one", lambda: evaluate(batch, one, None, T3))
    assert many_jobs == one_jobs


ROW = st.tuples(
    st.one_of(st.none(), st.integers(1, 4)),            # user_id
    st.integers(0, 3),                                   # hour of event time
    st.one_of(st.none(), st.integers(-5, 130)),         # age
    st.one_of(st.none(), st.sampled_from(["US", "DE", "ZZ", "us"])),
    st.one_of(st.none(), st.sampled_from(["a@x", "b@y", "nope", "@"])),
)
ORACLE_RULES = [
    {"type": "not_null", "column": "age"},
    {"type": "range", "column": "age", "min": 0, "max": 120},
    {"type": "allowed_values", "column": "country", "values": ["US", "DE"]},
    {"type": "regex", "column": "email", "pattern": "^[a-z]+@[a-z]+$"},
    {"type": "sql", "predicate": "age > user_id"},
    {"type": "unique"},
    {"type": "max_null_fraction", "column": "country", "fraction": 0.25},
]


def oracle(rows: list[tuple[Any, ...]]) -> list[tuple[bool, int]]:
    import re

    ages = [r[2] for r in rows]
    complete = [(r[0], r[1]) for r in rows if r[0] is not None]
    nulls = sum(r[3] is None for r in rows)
    sql_bad = sum(not (r[2] is not None and r[0] is not None and r[2] > r[0]) for r in rows)
    counts = [
        sum(a is None for a in ages),
        sum(a is not None and not 0 <= a <= 120 for a in ages),
        sum(r[3] is not None and r[3] not in ("US", "DE") for r in rows),
        sum(r[4] is not None and not re.search("^[a-z]+@[a-z]+$", r[4]) for r in rows),
        sql_bad,
        len(complete) - len(set(complete)),
    ]
    out = [(c == 0, c) for c in counts]
    out.append((nulls / len(rows) <= 0.25, nulls))
    return out


@settings(max_examples=6, deadline=None)
@given(st.lists(st.lists(ROW, min_size=1, max_size=8), min_size=1, max_size=25))
def test_rule_counters_match_a_brute_force_oracle(spark: SparkSession, cases: list[list[tuple[Any, ...]]]) -> None:
    """Many generated batches in ONE DataFrame; the same aggregates grouped by case id."""
    flat = [(case, uid, T1 + timedelta(hours=h), age, country, email, 1.0)
            for case, rows in enumerate(cases) for uid, h, age, country, email in rows]
    schema = T.StructType([T.StructField("case", T.IntegerType()), *SCHEMA.fields])
    df = spark.createDataFrame(flat, schema)
    rules = compile_rules(view_with(ORACLE_RULES), ["user_id"], df)
    aggs = {ROWS: F.count(F.lit(1))}
    for rule in rules:
        aggs.update(rule.aggregates)
    measured = {r["case"]: r.asDict() for r in df.groupBy("case").agg(*[e.alias(a) for a, e in aggs.items()]).collect()}
    keys = ["user_id", "event_timestamp"]  # unique runs its own group-by job; here per case
    dupes = (df.where(F.col("user_id").isNotNull()).groupBy("case", *keys).count()
             .groupBy("case").agg(F.sum(F.col("count") - 1).alias("d")).collect())
    for m in measured.values():
        m[dupes_alias(keys)] = 0  # a case whose keys are all null has no group at all
    for r in dupes:
        measured[r["case"]][dupes_alias(keys)] = r["d"]
    for case, rows in enumerate(cases):
        got = [(o.passed, o.failed_count) for o in (rule.check(measured[case], None, T3) for rule in rules)]
        assert got == oracle(rows), (case, rows)


def test_the_gate_measures_while_caching_exactly_what_the_aggregation_measures(spark: SparkSession) -> None:
    """The gate observes the counters while the batch is computed into the cache the write reads:
    the same numbers as the aggregation job, one job for cache and counters together, and the
    cache really holds the batch afterwards."""
    from sparkfs.quality.check import batch_aggregates
    from sparkfs.quality.gate import _write_cache_settings, measure_into_cache

    # shuffled, as a real batch is (conform groups it): adaptive execution sizes its partitions
    batch = spark.createDataFrame(ROWS_, SCHEMA).where(F.col("event_timestamp").isNotNull()).repartition("user_id")
    view = view_with([{**exp, "name": label} for label, (exp, _, _) in CASES.items()
                      if exp["type"] != "unique" or exp.get("columns")])
    rules = compile_rules(view, ["user_id"], batch)
    expected = batch.agg(*batch_aggregates(rules)).first()
    assert expected is not None
    (cached, measured), jobs = jobs_of(spark, "q-observe", lambda: measure_into_cache(spark, batch, rules, "run-1"))
    try:
        assert measured == expected.asDict()
        assert cached.is_cached and sorted(map(repr, cached.collect())) == sorted(map(repr, batch.collect()))
        # the write reads the cache in as many partitions as it would read the uncached batch
        assert cached.rdd.getNumPartitions() == batch.rdd.getNumPartitions()
        assert spark.conf.get("spark.sql.inMemoryColumnarStorage.compressed") == "true"  # restored
        # no job of its own: exactly the jobs of filling a cache with the same rows
        with _write_cache_settings(spark):
            plain = batch.withColumn("_copy", F.lit(1)).persist()
            try:
                _, cache_jobs = jobs_of(spark, "q-cache", plain.count)
            finally:
                plain.unpersist()
        assert jobs == cache_jobs
        # evaluate on the measured row gives the same results as its own aggregation
        now = T3 + timedelta(hours=1)
        assert evaluate(cached, rules, None, now, measured=measured) == evaluate(batch, rules, None, now)
    finally:
        cached.unpersist()
    assert not cached.is_cached


def test_a_batch_that_fails_while_caching_leaves_nothing_cached(spark: SparkSession) -> None:
    """The cache-filling job fails (here a row raises): the error surfaces and no cache of the
    batch stays behind for the next run."""
    import pytest

    from sparkfs.quality.gate import measure_into_cache

    batch = spark.createDataFrame(ROWS_, SCHEMA).withColumn(
        "email", F.when(F.col("user_id") == 4, F.raise_error(F.lit("source row 4 is broken"))).otherwise(F.col("email")))
    rules = compile_rules(view_with([{"type": "not_null", "column": "email"}]), ["user_id"], batch)
    spark.catalog.clearCache()  # start from no cached data at all
    cache_manager = spark._jsparkSession.sharedState().cacheManager()
    with pytest.raises(Exception, match="source row 4 is broken"):
        measure_into_cache(spark, batch, rules, "run-broken")
    assert cache_manager.isEmpty()
    assert spark.conf.get("spark.sql.inMemoryColumnarStorage.compressed") == "true"  # restored
