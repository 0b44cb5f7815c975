"""Declarations of windowed aggregations: plain frozen dataclasses, checked when built.

The definitions layer (pydantic, YAML) adapts a feature view's ``aggregations:`` block to these
types, so the engine in :mod:`sparkfs.offline.aggregation` depends on nothing but Spark. Every
problem in a spec is reported at once as a :class:`~sparkfs.errors.DefinitionError`, so an
author fixes the YAML in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

from sparkfs.errors import DefinitionError, ValidationError

__all__ = [
    "GRAIN_SIZES",
    "AggFeature",
    "AggFunction",
    "AggregationSpec",
    "Grain",
    "feature_column_name",
    "parse_window",
    "window_label",
]

AggFunction = Literal["count", "sum", "avg", "min", "max", "last", "approx_count_distinct"]
Grain = Literal["hour", "day"]

#: Length of one bucket of each grain. Buckets are aligned on the Unix epoch, i.e. UTC hours/days.
GRAIN_SIZES: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

_UNITS: tuple[tuple[str, int], ...] = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_WINDOW_TEXT = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_FUNCTIONS: tuple[str, ...] = get_args(AggFunction)


def window_label(td: timedelta) -> str:
    """The canonical text of a window: its length in the largest unit that divides it exactly.

    ``timedelta(days=7)`` -> ``"7d"``, ``timedelta(hours=36)`` -> ``"36h"``,
    ``timedelta(minutes=30)`` -> ``"30m"``. Output columns are named ``{feature}_{label}``, so
    the label must be stable: the same window always gets the same text.

    Raises:
        ValidationError: the window is not a positive whole number of seconds.
    """
    micros = td // timedelta(microseconds=1)
    if micros <= 0 or micros % 1_000_000:
        raise ValidationError(
            f"window {td!r} must be a positive whole number of seconds (e.g. 30m, 1h, 7d)"
        )
    seconds = micros // 1_000_000
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds divides by 1 s")


def parse_window(text: str) -> timedelta:
    """Parse ``"30m"``, ``"1h"``, ``"7d"`` (the inverse of :func:`window_label`).

    Raises:
        ValidationError: the text is not ``<positive integer><d|h|m|s>``.
    """
    match = _WINDOW_TEXT.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"window {text!r} is not understood; write a positive integer followed by "
            "d, h, m or s, e.g. 1h, 7d, 30d"
        )
    size = dict(_UNITS)[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * size)


def feature_column_name(feature: AggFeature, window: timedelta) -> str:
    """The output column of one feature over one window: ``{name}_{window_label}``."""
    return f"{feature.name}_{window_label(window)}"


@dataclass(frozen=True)
class AggFeature:
    """One aggregate of one source column, computed over every window of the spec.

    ``column`` may be ``None`` only for ``count``, which then counts events (rows) instead of
    non-null values of a column.
    """

    name: str
    function: AggFunction
    column: str | None = None


@dataclass(frozen=True)
class AggregationSpec:
    """Windowed aggregations of a feature view: a grain, windows, and the features.

    Output rows sit on grain boundaries; every window must be a whole number of grains so that
    a window starts and ends on boundaries. Construction fails with a
    :class:`~sparkfs.errors.DefinitionError` listing every problem found.
    """

    grain: Grain
    windows: tuple[timedelta, ...]
    features: tuple[AggFeature, ...]

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples so the spec stays hashable and immutable.
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "features", tuple(self.features))
        problems = _grain_problems(self.grain) or _window_problems(self.grain, self.windows)
        problems += _feature_problems(self.features)
        if problems:
            raise DefinitionError(problems)

    @property
    def grain_size(self) -> timedelta:
        """Length of one bucket."""
        return GRAIN_SIZES[self.grain]

    @property
    def max_window(self) -> timedelta:
        """The longest window: how much history a value at a boundary depends on."""
        return max(self.windows)


def _grain_problems(grain: str) -> list[str]:
    if grain in GRAIN_SIZES:
        return []
    return [f"aggregations.grain: {grain!r} is not a grain; use one of {sorted(GRAIN_SIZES)}"]


def _window_problems(grain: str, windows: tuple[timedelta, ...]) -> list[str]:
    if not windows:
        return ["aggregations.windows: give at least one window, e.g. [1h, 1d, 7d]"]
    size = GRAIN_SIZES[grain]
    problems: list[str] = []
    seen: set[timedelta] = set()
    for i, window in enumerate(windows):
        where = f"aggregations.windows[{i}]"
        if not isinstance(window, timedelta) or window <= timedelta(0):
            problems.append(f"{where}: {window!r} must be a positive duration such as 1h or 7d")
        elif window % size:
            problems.append(
                f"{where}: {window} is not a whole number of {grain}s (the grain); use a "
                f"multiple of {window_label(size)} or a finer grain"
            )
        elif window in seen:
            problems.append(f"{where}: {window_label(window)} is listed twice; remove one")
        seen.add(window)
    return problems


def _feature_problems(features: tuple[AggFeature, ...]) -> list[str]:
    if not features:
        return ["aggregations.features: declare at least one aggregated feature"]
    problems: list[str] = []
    names: set[str] = set()
    for i, feature in enumerate(features):
        where = f"aggregations.features[{i}]"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", feature.name or ""):
            problems.append(
                f"{where}.name: {feature.name!r} must be a letter/underscore identifier"
            )
        elif feature.name in names:
            problems.append(f"{where}.name: {feature.name!r} is declared twice; rename one")
        names.add(feature.name)
        if feature.function not in _FUNCTIONS:
            problems.append(
                f"{where}.function: {feature.function!r} is unknown; use one of {list(_FUNCTIONS)}"
            )
        elif feature.column is None and feature.function != "count":
            problems.append(f"{where}.column: {feature.function} needs a source column")
    return problems
