"""Point-in-time join semantics against a brute-force oracle, plus validation errors.

Generated cases are batched: each hypothesis example packs many independent cases into one
DataFrame (``case_id`` is part of every key) and checks them all with one Spark job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkfs.errors import ValidationError
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


def oracle_row(spine_keys: dict[str, Any], t: int | None, rows: list[dict[str, Any]], spec: Spec) -> tuple[Any, ...]:
    """The contract, literally: greatest E with E + D <= T and E > T - ttl; ties by ingest."""
    empty = (None,) * (len(spec.values) + 1)
    if t is None or any(spine_keys[k] is None for k in spec.keys):
        return empty
    candidates = [
        r
        for r in rows
        if all(r[k] == spine_keys[k] for k in spec.keys)
        and r["e"] is not None
        and r["e"] + spec.delay <= t
        and (spec.ttl is None or r["e"] > t - spec.ttl)
    ]
    if not candidates:
        return empty
    best = max(candidates, key=lambda r: (r["e"], r["ing"]))
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
                }
            ),
            max_size=8,
        )
    )
    # Unique, randomly ordered ingestion times: ties on E happen, ties on (E, ingest) do not.
    ingests = draw(st.permutations(range(len(rows))))
    return [{**r, "case": case, "ing": i} for r, i in zip(rows, ingests, strict=True)]


@st.composite
def spine_rows(draw: st.DrawFn, case: int) -> list[dict[str, Any]]:
    row = st.fixed_dictionaries(
        {"k1": K1, "k2": K2, "t": st.one_of(MINUTES, MINUTES, MINUTES, st.none()), "tag": st.integers(0, 2)}
    )
    rows = draw(st.lists(row, min_size=1, max_size=6))
    copies = draw(st.lists(st.sampled_from(rows), max_size=3))  # exact spine duplicates
    return [{**r, "case": case} for r in rows + copies]


TTL = st.one_of(st.none(), st.integers(1, 6))
DELAY = st.integers(0, 3)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Spec], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    specs = [
        Spec("full", ("case", "k1", "k2"), ("x", "y"), draw(TTL), draw(DELAY)),
        # Same key set, other order: must share the first source's sort pass.
        Spec("same_keys", ("k2", "case", "k1"), ("x",), draw(TTL), draw(DELAY)),
        Spec("k1_only", ("case", "k1"), ("x",), draw(TTL), draw(DELAY)),
    ]
    n_cases = draw(st.integers(1, 12))
    spine = [r for c in range(n_cases) for r in draw(spine_rows(c))]
    feats = {s.name: [r for c in range(n_cases) for r in draw(feature_rows(c, s))] for s in specs}
    return specs, spine, feats


# ------------------------------------------------------------------------------- harness


def spine_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    data = [(r["case"], r["k1"], r["k2"], r["t"], r["tag"]) for r in rows]
    df = spark.createDataFrame(data, "case int, k1 string, k2 string, t long, tag int")
    return df.select("case", "k1", "tag", at("t").alias("event_timestamp"), "k2")


def feature_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    data = [(r["case"], r["k1"], r["k2"], r["e"], r["x"], r["y"], r["ing"]) for r in rows]
    schema = "case int, k1 string, k2 string, e long, x int, y string, ing long"
    df = spark.createDataFrame(data, schema)
    return df.select(
        "case",
        "k1",
        "k2",
        at("e").alias("event_timestamp"),
        "x",
        "y",
        F.timestamp_micros(F.lit(BASE_MICROS) + F.col("ing")).alias("_ingested_at"),
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
    )


def run_join(spark: SparkSession, specs: list[Spec], spine: list[dict[str, Any]], feats: dict[str, list[dict[str, Any]]]) -> tuple[list[str], Counter[tuple[Any, ...]]]:
    sources = [source(s, feature_df(spark, feats[s.name])) for s in specs]
    out = point_in_time_join(spine_df(spark, spine), sources)
    ts_cols = {"event_timestamp", *(f"{s.name}__ts" for s in specs)}
    selected = out.select(*[minutes_of(c).alias(c) if c in ts_cols else F.col(c) for c in out.columns])
    return out.columns, Counter(tuple(r) for r in selected.collect())


def expected(specs: Sequence[Spec], spine: list[dict[str, Any]], feats: dict[str, list[dict[str, Any]]]) -> Counter[tuple[Any, ...]]:
    result: Counter[tuple[Any, ...]] = Counter()
    for r in spine:
        values: tuple[Any, ...] = (r["case"], r["k1"], r["tag"], r["t"], r["k2"])
        for spec in specs:
            values += oracle_row(r, r["t"], feats[spec.name], spec)
        result[values] += 1
    return result


# --------------------------------------------------------------------------------- tests


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_matches_brute_force_oracle(spark: SparkSession, scenario: Any) -> None:
    specs, spine, feats = scenario
    columns, got = run_join(spark, specs, spine, feats)
    assert columns[:5] == ["case", "k1", "tag", "event_timestamp", "k2"]
    assert got == expected(specs, spine, feats)
