"""Durations as written in definitions: ``30s``, ``15m``, ``1h``, ``7d``, ``2w``.

A duration has one canonical spelling (the largest exact unit), so ``24h`` and ``1d`` are the
same definition and hash to the same version.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile(r"^\s*(\d+)\s*([wdhms])\s*$")


def parse_duration(value: object) -> timedelta:
    """Parse ``<integer><unit>`` (units w, d, h, m, s) or pass a timedelta through."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(
        f"invalid duration {value!r}: write an integer followed by a unit "
        "(s, m, h, d or w), for example 30m, 1h, 7d"
    )


def format_duration(value: timedelta) -> str:
    """The canonical spelling: the largest unit (d, h, m, s) that divides it exactly."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every integer is a multiple of 1s")


def _validate(value: object) -> timedelta:
    parsed = parse_duration(value)
    if parsed < timedelta(0):
        raise ValueError("durations cannot be negative")
    return parsed


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
