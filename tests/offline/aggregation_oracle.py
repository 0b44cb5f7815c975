"""Brute-force reference for windowed aggregations: the contract, in plain Python.

Kept apart from the tests so the oracle reads as a specification: for an entity and a time t,
the value is the aggregate over the entity's raw events in ``(floor_grain(t) - w, floor_grain(t)]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sparkfs.offline.aggregation_spec import AggFeature, AggregationSpec, feature_column_name

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    """One raw event; ``values`` maps column name -> value (None = null)."""

    key: tuple[Any, ...]
    ts: datetime | None
    values: dict[str, Any]


def floor_grain(t: datetime, grain: timedelta) -> datetime:
    return EPOCH + ((t - EPOCH) // grain) * grain


def aggregate(feature: AggFeature, events: Sequence[Event]) -> Any:
    """The exact value of one feature over the given events (already cut to a window)."""
    if feature.function == "count" and feature.column is None:
        return len(events)
    assert feature.column is not None
    values = [e.values[feature.column] for e in events if e.values[feature.column] is not None]
    fn = feature.function
    if fn == "count":
        return len(values)
    if fn == "approx_count_distinct":
        return len(set(values))
    if fn == "last":
        if not events:
            return None
        latest = max(e.ts for e in events if e.ts is not None)
        tied = [e.values[feature.column] for e in events if e.ts == latest]
        present = [v for v in tied if v is not None]
        return max(present) if present else None
    if not values:
        return None
    if fn == "sum":
        return sum(values)
    if fn == "avg":
        return sum(values) / len(values)
    return min(values) if fn == "min" else max(values)


def expected_at(
    spec: AggregationSpec, events: Sequence[Event], t: datetime
) -> dict[str, Any] | None:
    """What a point-in-time read at ``t`` must return for one entity (None: no row)."""
    boundary = floor_grain(t, spec.grain_size)
    if not any(e.ts <= boundary for e in events if e.ts is not None):
        return None
    out: dict[str, Any] = {}
    for window in spec.windows:
        inside = [e for e in events if e.ts is not None and boundary - window < e.ts <= boundary]
        for feature in spec.features:
            out[feature_column_name(feature, window)] = aggregate(feature, inside)
    return out


def pit_read(rows: Sequence[dict[str, Any]], t: datetime) -> dict[str, Any] | None:
    """The row with the greatest event_timestamp <= t (rows of one entity)."""
    best = None
    for row in rows:
        if row["event_timestamp"] <= t and (
            best is None or row["event_timestamp"] > best["event_timestamp"]
        ):
            best = row
    return best


def values_match(spec: AggregationSpec, got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Names of columns whose values differ (floats approximately, HLL within tolerance)."""
    bad: list[str] = []
    functions = {feature_column_name(f, w): f.function for f in spec.features for w in spec.windows}
    for name, expected in want.items():
        actual = got[name]
        if not _close(functions[name], actual, expected):
            bad.append(f"{name}: got {actual!r}, want {expected!r}")
    return bad


def _close(function: str, actual: Any, expected: Any) -> bool:
    if function == "approx_count_distinct":
        if expected < 10:
            return bool(actual == expected)
        return bool(abs(actual - expected) <= 0.05 * expected)
    if isinstance(expected, float) and actual is not None:
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    return bool(actual == expected)


def boundaries(first: datetime, last: datetime, grain: timedelta) -> Iterable[datetime]:
    t = floor_grain(first, grain)
    while t <= last:
        yield t
        t += grain
