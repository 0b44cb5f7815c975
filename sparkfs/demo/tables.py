"""Column recipes for the demo data set: one DataFrame builder per table.

Every random value is a pure function of ``(seed, row id, column tag)`` computed with
``xxhash64`` on the executors. Nothing depends on partitioning, task order or ``rand()``'s
per-partition streams, so the same seed gives the same rows on one core or on a cluster.
The builders take an id DataFrame (``spark.range``) and return a DataFrame: no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

__all__ = [
    "ANCHOR",
    "WINDOW_DAYS",
    "DemoSpec",
    "fraud_labels_frame",
    "merchants_frame",
    "transactions_frame",
    "users_frame",
]

#: Transactions fall in the ``WINDOW_DAYS`` days before this instant (exclusive), so the output
#: does not depend on when it is generated.
ANCHOR = datetime(2024, 3, 1, tzinfo=UTC)
WINDOW_DAYS = 60

_DAY = 86_400
_MAX_USER_VERSIONS = 4
_MAX_MERCHANT_VERSIONS = 3

# Rates of the data-quality quirks the demo promises (docs/demo-data.md).
DUPLICATE_RATE = 0.005
LATE_RATE = 0.02
NULL_MERCHANT_RATE = 0.002
NULL_AMOUNT_RATE = 0.0005

_COUNTRIES = [("US", 40), ("GB", 12), ("DE", 12), ("FR", 10), ("NL", 6), ("ES", 6),
              ("IN", 6), ("BR", 4), ("JP", 4)]  # fmt: skip
_CURRENCIES = [("USD", 60), ("EUR", 25), ("GBP", 10), ("JPY", 5)]
_CATEGORIES = [("grocery", 25), ("restaurants", 18), ("fuel", 12), ("electronics", 10),
               ("travel", 8), ("fashion", 10), ("digital_goods", 7), ("gambling", 3),
               ("health", 7)]  # fmt: skip


@dataclass(frozen=True)
class DemoSpec:
    """Sizes and seed of one demo data set; derived sizes follow ``rows``."""

    rows: int
    seed: int = 42
    anchor: datetime = ANCHOR

    @property
    def window_start_s(self) -> int:
        """Epoch seconds where the transactions' 60-day window starts (anchor - 60 days)."""
        return int(self.anchor.timestamp()) - WINDOW_DAYS * _DAY

    @property
    def n_users(self) -> int:
        return max(self.rows // 20, 50)

    @property
    def n_merchants(self) -> int:
        return max(self.rows // 200, 20)


def _uniform(seed: int, tag: str, *cols: Column) -> Column:
    """A uniform double in [0, 1) determined by ``(seed, tag, cols)`` alone."""
    bits = F.xxhash64(F.lit(seed), F.lit(tag), *cols).bitwiseAND(F.lit((1 << 53) - 1))
    return bits.cast("double") / F.lit(float(1 << 53))


def _pick(u: Column, weighted: Sequence[tuple[str, int]]) -> Column:
    """The value whose cumulative-weight slice contains ``u`` (a uniform in [0, 1))."""
    total = float(sum(w for _, w in weighted))
    acc, expr = 0.0, None
    for value, weight in weighted[:-1]:
        acc += weight / total
        expr = F.when(u < acc, value) if expr is None else expr.when(u < acc, value)
    last = F.lit(weighted[-1][0])
    return last if expr is None else expr.otherwise(last)


def _ts(seconds: Column) -> Column:
    return F.timestamp_seconds(seconds.cast("long"))


def _version_time(spec: DemoSpec, u_slot: Column, version: Column, n_versions: Column) -> Column:
    """Epoch seconds of profile version ``version >= 1``: strictly increasing in ``version``.

    Versions 1.. fall in [window start - 30 days, anchor), each in its own slice, so profiles
    change both before and during the transaction window (point-in-time joins matter).
    """
    span = float(WINDOW_DAYS * _DAY + 30 * _DAY)
    frac = (version.cast("double") - 1 + u_slot) / (n_versions - 1).cast("double")
    return F.lit(spec.window_start_s - 30 * _DAY) + F.floor(frac * F.lit(span))


def users_frame(ids: DataFrame, spec: DemoSpec) -> DataFrame:
    """Slowly changing user profiles, 1-4 versions per user keyed by ``updated_at``.

    ``ids`` is ``spark.range(n_users * 4)``: id // 4 is the user, id % 4 the version slot.
    """
    s = spec.seed
    user = (F.col("id") / _MAX_USER_VERSIONS).cast("long")
    version = F.col("id") % _MAX_USER_VERSIONS
    n_versions = 1 + F.floor(_uniform(s, "u.versions", user) * _MAX_USER_VERSIONS)
    signup_s = F.lit(spec.window_start_s - 3 * 365 * _DAY) + F.floor(
        _uniform(s, "u.signup", user) * F.lit(float(3 * 365 * _DAY - 31 * _DAY))
    )
    updated_s = F.when(version == 0, signup_s).otherwise(
        _version_time(spec, _uniform(s, "u.vtime", user, version), version, n_versions)
    )
    home = _pick(_uniform(s, "u.country", user), _COUNTRIES)
    moved = _pick(_uniform(s, "u.country2", user, version), _COUNTRIES)
    country = F.when((version > 0) & (_uniform(s, "u.moves", user, version) < 0.1), moved)
    base_age = _base_age(s, user)
    age = base_age + F.floor((updated_s - signup_s) / F.lit(365 * _DAY))
    premium = _uniform(s, "u.premium", user, version) < (0.15 + 0.1 * version.cast("double"))
    return ids.where(version < n_versions).select(
        (user + 1).alias("user_id"),
        _ts(signup_s).alias("signup_ts"),
        F.coalesce(country, home).alias("country"),
        age.cast("int").alias("age"),
        premium.alias("is_premium"),
        _ts(updated_s).alias("updated_at"),
    )


def _base_age(seed: int, user: Column) -> Column:
    """A user's age at signup, 18-79, by 0-based user index (``user_id - 1``); shared by the
    profiles and the fraud labels."""
    return 18 + F.floor(_uniform(seed, "u.age", user) * 62)


def _merchant_risk(seed: int, merchant_id: Column) -> Column:
    """A merchant's baseline risk in [0, 1), skewed low; shared by merchants and fraud labels."""
    return F.pow(_uniform(seed, "m.risk", merchant_id), F.lit(3.0))


def merchants_frame(ids: DataFrame, spec: DemoSpec) -> DataFrame:
    """Merchants with 1-3 versions each; the risk score drifts around a per-merchant baseline.

    ``ids`` is ``spark.range(n_merchants * 3)``: id // 3 is the merchant, id % 3 the version.
    """
    s = spec.seed
    merchant = (F.col("id") / _MAX_MERCHANT_VERSIONS).cast("long")
    mid = merchant + 1
    version = F.col("id") % _MAX_MERCHANT_VERSIONS
    n_versions = 1 + F.floor(_uniform(s, "m.versions", merchant) * _MAX_MERCHANT_VERSIONS)
    onboard_s = F.lit(spec.window_start_s - 2 * 365 * _DAY) + F.floor(
        _uniform(s, "m.onboard", merchant) * F.lit(float(2 * 365 * _DAY - 31 * _DAY))
    )
    updated_s = F.when(version == 0, onboard_s).otherwise(
        _version_time(spec, _uniform(s, "m.vtime", merchant, version), version, n_versions)
    )
    drift = (_uniform(s, "m.drift", merchant, version) - 0.5) * 0.1 * version.cast("double")
    risk = F.least(F.lit(1.0), F.greatest(F.lit(0.0), _merchant_risk(s, mid) + drift))
    return ids.where(version < n_versions).select(
        mid.alias("merchant_id"),
        _pick(_uniform(s, "m.category", merchant), _CATEGORIES).alias("category"),
        _pick(_uniform(s, "m.country", merchant), _COUNTRIES).alias("country"),
        F.round(risk, 4).alias("risk_score"),
        _ts(updated_s).alias("updated_at"),
    )


def _base_transactions(ids: DataFrame, spec: DemoSpec) -> DataFrame:
    """One row per distinct transaction (``ids`` is ``spark.range(rows)``), before quirks."""
    s, txn = spec.seed, F.col("id")
    # Skewed choice of user and merchant: a few heavy users and popular merchants.
    user = 1 + F.floor(F.pow(_uniform(s, "t.user", txn), F.lit(1.5)) * spec.n_users)
    merchant = 1 + F.floor(F.pow(_uniform(s, "t.merchant", txn), F.lit(2.0)) * spec.n_merchants)
    # Log-normal amount via Box-Muller; median ~ 33, long right tail.
    u1 = F.lit(1.0) - _uniform(s, "t.amount1", txn)
    normal = F.sqrt(-2.0 * F.log(u1)) * F.cos(2 * math.pi * _uniform(s, "t.amount2", txn))
    amount = F.round(F.exp(F.lit(3.5) + F.lit(1.1) * normal), 2)
    ts_s = F.lit(spec.window_start_s) + F.floor(
        _uniform(s, "t.ts", txn) * F.lit(float(WINDOW_DAYS * _DAY))
    )
    late = _uniform(s, "t.late", txn) < LATE_RATE
    delay_s = F.when(
        late, F.lit(3600) + F.floor(_uniform(s, "t.delay", txn) * F.lit(3.0 * _DAY))
    ).otherwise(F.lit(1) + F.floor(_uniform(s, "t.delay", txn) * F.lit(600.0)))
    no_merchant = _uniform(s, "t.null_merchant", txn) < NULL_MERCHANT_RATE
    no_amount = _uniform(s, "t.null_amount", txn) < NULL_AMOUNT_RATE
    return ids.select(
        (txn + 1).alias("txn_id"),
        user.cast("long").alias("user_id"),
        F.when(~no_merchant, merchant.cast("long")).alias("merchant_id"),
        F.when(~no_amount, amount).cast("double").alias("amount"),
        _pick(_uniform(s, "t.currency", txn), _CURRENCIES).alias("currency"),
        _ts(ts_s).alias("ts"),
        _ts(ts_s + delay_s).alias("ingested_at"),
        # The event date from epoch seconds: UTC whatever the session time zone is.
        F.date_from_unix_date(F.floor(ts_s / _DAY).cast("int")).alias("dt"),
    )


def transactions_frame(ids: DataFrame, spec: DemoSpec) -> DataFrame:
    """Card transactions with the promised quirks: ~0.5% exact duplicates, late arrivals, nulls."""
    base = _base_transactions(ids, spec)
    dup = _uniform(spec.seed, "t.duplicate", F.col("txn_id")) < DUPLICATE_RATE
    return base.unionByName(base.where(dup))


def fraud_labels_frame(ids: DataFrame, spec: DemoSpec) -> DataFrame:
    """One label per distinct transaction: a training spine ``(txn_id, user_id, merchant_id, ts, is_fraud)``.

    Fraud is likelier for young users (signup age under 30) and for rarely active ones (the
    demo's high user ids transact least), which the ``fraud_model`` features see through
    ``user_profile:age`` and the ``user_txn_aggs`` counts; also at risky merchants, for large
    amounts and for a few compromised users, which they do not see (~4% positives overall).
    """
    s = spec.seed
    txns = _base_transactions(ids, spec)
    risk = F.coalesce(_merchant_risk(s, F.col("merchant_id")), F.lit(0.5))
    big = F.coalesce(F.col("amount"), F.lit(0.0)) > 300
    compromised = _uniform(s, "f.user", F.col("user_id")) < 0.02
    young = _base_age(s, F.col("user_id") - 1) < 30
    rarely_active = F.col("user_id") > F.lit(0.7 * spec.n_users)
    p = (
        F.lit(0.002)
        + 0.01 * risk
        + F.when(big, 0.03).otherwise(0.0)
        + F.when(compromised, 0.1).otherwise(0.0)
        + F.when(young, 0.12).otherwise(0.0)
        + F.when(rarely_active, 0.05).otherwise(0.0)
    )
    return txns.select(
        "txn_id",
        "user_id",
        "merchant_id",
        "ts",
        (_uniform(s, "f.label", F.col("txn_id")) < p).alias("is_fraud"),
    )
