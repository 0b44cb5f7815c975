"""Retrying one Redis step of a sync through transient failures (a restart, a failover)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

from sparkfs.errors import OnlineStoreError
from sparkfs.online.topology import OnlineTarget, node_label

__all__ = ["retrying"]

T = TypeVar("T")

#: Errors worth retrying: the node is (re)starting, loading, failing over or unreachable.
_TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError,
             redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError)


def retrying(online: OnlineTarget, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn``, retrying transient Redis errors ``online.max_retries`` times with
    exponential backoff from ``online.retry_backoff_s``.

    Raises:
        OnlineStoreError: a non-transient error, or still failing after the last attempt;
            names the node and the step.
    """
    attempts = online.max_retries + 1
    for attempt in range(attempts):
        try:
            return fn()
        except redis.RedisError as exc:
            if not isinstance(exc, _TRANSIENT):
                raise OnlineStoreError(f"{node_label(online)}: {what} failed: {exc}") from exc
            if attempt + 1 == attempts:
                raise OnlineStoreError(
                    f"{node_label(online)}: {what} failed after {attempts} attempts: {exc}; "
                    "check that Redis is up and reachable, then rerun the sync"
                ) from exc
            time.sleep(online.retry_backoff_s * (2**attempt))
    raise AssertionError("unreachable")
