"""An optional in-process cache of online values (``serving.cache``), bounded and short-lived.

Hot entities (a popular merchant) are read by many requests per second; a cache with a ttl of
about a second removes most of their Redis reads while bounding staleness. Entries are keyed by
view *version*, so a new definition version never serves values cached for the old one.
Off by default: a cached value may be up to ``ttl_s`` older than Redis.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from sparkfs.online.reader import ViewValue

__all__ = ["ValueCache"]

CacheKey = tuple[str, str, Hashable]  # view name, version, entity key values


class ValueCache:
    """LRU with a per-entry expiry; single-threaded use (one event loop) or under the GIL."""

    def __init__(self, max_entries: int, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[CacheKey, tuple[float, ViewValue]] = OrderedDict()

    def get(self, key: CacheKey) -> ViewValue | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: CacheKey, value: ViewValue) -> None:
        self._items[key] = (self._clock() + self.ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
