"""The one clock the serving layer reads: the lookup time of every online read.

An online lookup at time ``t`` returns what a point-in-time join returns for ``(entity, t)``,
so ``t`` matters to the answer (an aggregation's windows slide on with it). The serving
runtime takes ``t`` from a :data:`Clock` it is given, the system clock by default; tests and
replays pass their own and move it, instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utc_now"]

#: A function returning the current time as an aware UTC ``datetime``.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)
