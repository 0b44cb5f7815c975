"""The online lookup, shared by the HTTP endpoints and ``FeatureStore.get_online_features``.

A lookup resolves the requested names against a :class:`Catalog` snapshot (never against Redis
or the registry), validates the entity columns, and reads every (entity, view) pair in one
Redis round trip through the online reader. Key bytes are built only by the online layout from
validated, typed key values; a request name is never pasted into a Redis key.

This module does not import FastAPI: it raises :mod:`sparkfs.errors` classes and the serving
layer maps them to HTTP statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sparkfs.clock import Clock, utc_now
from sparkfs.echo import excerpt
from sparkfs.errors import LimitExceededError, OnlineStoreError, ValidationError
from sparkfs.online.reader import AsyncOnlineReader, OnlineReader, ViewValue
from sparkfs.pipeline.serving_catalog import Catalog, FeatureColumn, ServedView
from sparkfs.serving.cache import ValueCache

__all__ = [
    "LookupObserver",
    "LookupPlan",
    "LookupResult",
    "OnlineLookup",
    "plan_lookup",
    "read_blocking",
]

_INT_TYPES = ("int32", "int64")
_INT64 = (-(2**63), 2**63 - 1)


class LookupObserver(Protocol):
    """Receives cache and Redis events (the Prometheus metrics implement it)."""

    def cache_hits(self, n: int) -> None: ...

    def cache_misses(self, n: int) -> None: ...

    def redis_error(self) -> None: ...


@dataclass(frozen=True)
class LookupPlan:
    """What a request reads: columns in response order, the views behind them, their keys."""

    columns: tuple[FeatureColumn, ...]
    views: tuple[ServedView, ...]
    key_types: Mapping[str, str]  # entity column -> type, in first-seen order
    service: str | None = None

    @property
    def scope_names(self) -> frozenset[str]:
        """View names read (an API key needs each in scope, or the service)."""
        return frozenset(v.name for v in self.views)


@dataclass(frozen=True)
class LookupResult:
    """Per entity row: its key values and, per view name, the online reader's answer."""

    plan: LookupPlan
    entities: Mapping[str, Sequence[Any]]
    rows: Sequence[Mapping[str, ViewValue]]


def plan_lookup(catalog: Catalog, features: Sequence[str] | None,
                feature_service: str | None) -> LookupPlan:
    """Resolve ``features`` or ``feature_service`` (exactly one) against the catalog.

    Raises:
        ValidationError: neither or both given, or a malformed reference.
        NotFoundError: an unknown (or unapproved, or offline-only) view, feature or service.
    """
    if (features is None) == (feature_service is None):
        raise ValidationError("features / feature_service: give exactly one of them")
    if feature_service is not None:
        columns = catalog.service(feature_service).columns
    else:
        assert features is not None
        if not features:
            raise ValidationError("features: give at least one view:feature reference")
        columns = catalog.resolve(features)
    views = tuple(catalog.view(name) for name in dict.fromkeys(c.view for c in columns))
    key_types: dict[str, str] = {}
    for view in views:
        for key in view.online.keys:
            key_types.setdefault(key.name, key.dtype)
    return LookupPlan(columns, views, key_types, feature_service)


def entity_rows(plan: LookupPlan, entities: Mapping[str, Sequence[Any]],
                max_entities: int) -> list[dict[str, Any]]:
    """Validate the column-oriented entities and turn them into rows.

    Raises:
        ValidationError: a key column is missing, unknown, of unequal length or wrongly typed
            (names ``entities.<column>[<row>]``).
        LimitExceededError: more than ``max_entities`` rows.
    """
    missing = [k for k in plan.key_types if k not in entities]
    if missing:
        raise ValidationError(f"entities.{missing[0]}: missing; the requested views are keyed "
                              f"by {', '.join(plan.key_types)}")
    extra = sorted(k for k in entities if k not in plan.key_types)
    if extra:
        raise ValidationError(f"entities.{excerpt(extra[0], quote=False)}: not a key of the requested views "
                              f"(they are keyed by {', '.join(plan.key_types)})")
    lengths = {len(v) for v in entities.values()}
    if len(lengths) > 1:
        raise ValidationError("entities: key columns must be parallel lists of one length, got "
                              + ", ".join(f"{k}={len(v)}" for k, v in entities.items()))
    n = lengths.pop() if lengths else 0
    if n > max_entities:
        raise LimitExceededError(f"entities: {n} rows exceed serving.max_entities="
                                 f"{max_entities}; split the request")
    for name, dtype in plan.key_types.items():
        _check_column(name, dtype, entities[name])
    columns = [(name, entities[name]) for name in plan.key_types]
    return [{name: values[i] for name, values in columns} for i in range(n)]


def _check_column(name: str, dtype: str, values: Sequence[Any]) -> None:
    for i, value in enumerate(values):
        if value is None:
            continue  # a null key matches nothing: NOT_FOUND, as in the offline join
        if dtype in _INT_TYPES:
            ok = type(value) is int and _INT64[0] <= value <= _INT64[1]
        else:
            ok = isinstance(value, str)
        if not ok:
            want = "an integer (int64)" if dtype in _INT_TYPES else "a string"
            raise ValidationError(f"entities.{name}[{i}]: {excerpt(value)} is not {want}")


def _entity_key(row: Mapping[str, Any], view: ServedView) -> tuple[Any, ...]:
    return tuple(row[k] for k in view.online.key_names)


class OnlineLookup:
    """Async lookups through one :class:`AsyncOnlineReader`, optionally behind a cache.

    Args:
        clock: the lookup time of every read (the system clock; tests pass their own).
        timeout_s: the whole Redis read is bounded by this (the reader's socket timeout bounds
            each call; this also bounds reconnect attempts), then OnlineStoreError (503).
    """

    def __init__(self, reader: AsyncOnlineReader, *, timeout_s: float, max_entities: int,
                 cache: ValueCache | None = None, observer: LookupObserver | None = None,
                 clock: Clock = utc_now) -> None:
        self.reader = reader
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_entities = max_entities
        self.cache = cache
        self.observer = observer

    async def lookup(self, catalog: Catalog, entities: Mapping[str, Sequence[Any]], *,
                     features: Sequence[str] | None = None, feature_service: str | None = None,
                     plan: LookupPlan | None = None) -> LookupResult:
        plan = plan or plan_lookup(catalog, features, feature_service)
        rows = entity_rows(plan, entities, self.max_entities)
        answers = self._from_cache(plan, rows)
        todo = [i for i, a in enumerate(answers) if a is None]
        if todo:
            read = await self._read(plan, [rows[i] for i in todo])
            for i, answer in zip(todo, read, strict=True):
                answers[i] = answer
                self._to_cache(plan, rows[i], answer)
        return LookupResult(plan, {k: entities[k] for k in plan.key_types},
                            [a for a in answers if a is not None])

    async def _read(self, plan: LookupPlan, rows: list[dict[str, Any]]
                    ) -> list[dict[str, ViewValue]]:
        views = [v.online for v in plan.views]
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.reader.read(views, rows, now=self.clock())
        except TimeoutError as exc:
            self._redis_error()
            raise OnlineStoreError(f"online store did not answer within {self.timeout_s}s "
                                   "(serving.redis_timeout_s); retry shortly") from exc
        except OnlineStoreError:
            self._redis_error()
            raise

    def _redis_error(self) -> None:
        if self.observer is not None:
            self.observer.redis_error()

    def _from_cache(self, plan: LookupPlan, rows: list[dict[str, Any]]
                    ) -> list[dict[str, ViewValue] | None]:
        if self.cache is None:
            return [None] * len(rows)
        out: list[dict[str, ViewValue] | None] = []
        hits = 0
        for row in rows:
            found: dict[str, ViewValue] = {}
            for view in plan.views:
                value = self.cache.get((view.name, view.version, _entity_key(row, view)))
                if value is None:
                    break
                found[view.name] = value
            complete = len(found) == len(plan.views)
            hits += complete
            out.append(found if complete else None)
        if self.observer is not None:
            self.observer.cache_hits(hits)
            self.observer.cache_misses(len(rows) - hits)
        return out

    def _to_cache(self, plan: LookupPlan, row: dict[str, Any],
                  answer: Mapping[str, ViewValue]) -> None:
        if self.cache is None:
            return
        for view in plan.views:
            self.cache.put((view.name, view.version, _entity_key(row, view)), answer[view.name])

    async def aclose(self) -> None:
        await self.reader.aclose()


def read_blocking(reader: OnlineReader, catalog: Catalog, entities: Mapping[str, Sequence[Any]],
                  *, features: Sequence[str] | None = None, feature_service: str | None = None,
                  max_entities: int, now: datetime | None = None) -> LookupResult:
    """The same lookup without an event loop (notebooks, ``FeatureStore``): same plan, same
    validation, same reader semantics; no cache."""
    plan = plan_lookup(catalog, features, feature_service)
    rows = entity_rows(plan, entities, max_entities)
    answers = reader.read([v.online for v in plan.views], rows, now=now)
    return LookupResult(plan, {k: entities[k] for k in plan.key_types}, answers)
