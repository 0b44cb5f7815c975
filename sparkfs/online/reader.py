"""Online lookups: many entities x several views in one Redis round trip.

A read needs each view's live generation (part of its keys). Readers cache it and send, in the
same pipeline as the value reads, the pointer of every view read: when a full refresh has
published a new generation since, the reply says so and the reader reads that view again
from the new generation (a second round trip only right after a switch; also on the very first
read of a view). The pointer is read *after* the values in the pipeline, and an old generation
is deleted only after a grace period following the switch, so a reply whose pointer still
matches was served entirely from one complete generation of one definition version.

Standalone Redis gets one ``MGET`` per view; on a cluster, redis-py's cluster pipeline groups
the ``GET``s per node and writes to every node before reading any reply (one round per node,
overlapped). The asyncio reader talks to a standalone Redis over one pipelined connection
(:mod:`sparkfs.online.aio`) shared by all concurrent lookups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

import redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.errors import OnlineStoreError, ValidationError
from sparkfs.online.aio import AsyncConnection
from sparkfs.online.layout import (
    EntityKeyCodec,
    ValueCodec,
    control_key,
    data_prefix,
    datetime_to_us,
    pointer_field,
    us_to_datetime,
)
from sparkfs.online.resp import ReplyError, command, parse_redis_url
from sparkfs.online.topology import OnlineTarget, make_client, node_label
from sparkfs.online.view import OnlineView

__all__ = ["AsyncOnlineReader", "OnlineReader", "Status", "ViewValue"]

_MAX_ROUNDS = 3


class Status(StrEnum):
    PRESENT = "present"
    NOT_FOUND = "not_found"
    OUTSIDE_MAX_AGE = "outside_max_age"


class ViewValue(NamedTuple):
    """One view's answer for one entity. ``values`` is ``None`` unless PRESENT; ``event_time``
    is set for PRESENT and OUTSIDE_MAX_AGE. (A named tuple: a lookup builds one per entity and
    view, and a frozen dataclass costs several times more to create.)"""

    status: Status
    event_time: datetime | None = None
    values: dict[str, Any] | None = None


_NOT_FOUND = ViewValue(Status.NOT_FOUND)


@dataclass
class _ViewRead:
    view: OnlineView
    generation: int | None
    positions: list[int] = field(default_factory=list)  # entity row index per key
    keys: list[bytes] = field(default_factory=list)


class _Planner:
    """Builds the commands of one read and turns replies into :class:`ViewValue` s."""

    def __init__(self, namespace: str, is_cluster: bool) -> None:
        self.namespace = namespace
        self.is_cluster = is_cluster
        self.pointers: dict[tuple[str, str], int | None] = {}
        self._codecs: dict[tuple[str, str], tuple[EntityKeyCodec, ValueCodec]] = {}

    def codecs(self, view: OnlineView) -> tuple[EntityKeyCodec, ValueCodec]:
        ident = (view.name, view.version)
        if ident not in self._codecs:
            self._codecs[ident] = (EntityKeyCodec(view), ValueCodec(view))
        return self._codecs[ident]

    def missing(self, views: Sequence[OnlineView]) -> list[OnlineView]:
        return [v for v in views if (v.name, v.version) not in self.pointers]

    def pointer_cmds(self, views: Sequence[OnlineView]) -> list[tuple[Any, ...]]:
        return [("HGET", control_key(self.namespace, v.name), pointer_field(v.version))
                for v in views]

    def learn(self, views: Sequence[OnlineView], replies: Sequence[Any]) -> None:
        for view, raw in zip(views, replies, strict=True):
            self.pointers[(view.name, view.version)] = None if raw is None else int(raw)

    def plan(self, views: Sequence[OnlineView],
             rows: Sequence[Mapping[str, Any]]) -> tuple[list[_ViewRead], list[tuple[Any, ...]]]:
        reads: list[_ViewRead] = []
        cmds: list[tuple[Any, ...]] = []
        for view in views:
            gen = self.pointers.get((view.name, view.version))
            read = _ViewRead(view, gen)
            if gen is not None:
                key_codec = self.codecs(view)[0]
                prefix = data_prefix(self.namespace, view.name, view.version, gen)
                for pos, row in enumerate(rows):
                    values = _key_values(view, row)
                    if values is not None:
                        read.positions.append(pos)
                        read.keys.append(prefix + key_codec.encode(values))
            reads.append(read)
            if not read.keys:
                continue
            if self.is_cluster:
                cmds.extend(("GET", k) for k in read.keys)
            else:
                cmds.append(("MGET", *read.keys))
        return reads, cmds + self.pointer_cmds(views)

    def values_of(self, reads: list[_ViewRead], replies: list[Any]) -> list[list[Any]]:
        out: list[list[Any]] = []
        pos = 0
        for read in reads:
            if not read.keys:
                out.append([])
            elif self.is_cluster:
                out.append(replies[pos : pos + len(read.keys)])
                pos += len(read.keys)
            else:
                out.append(replies[pos])
                pos += 1
        return out

    def decode(self, read: _ViewRead, raws: list[Any], results: list[dict[str, ViewValue]],
               now_us: int) -> None:
        view = read.view
        value_codec = self.codecs(view)[1]
        ttl_us = view.ttl_ms * 1000
        names = view.feature_names
        available_us = now_us - view.delay_us
        for pos, raw in zip(read.positions, raws, strict=True):
            if raw is None:
                continue
            point = value_codec.at(raw, available_us)
            if point is None:
                continue  # every stored point lies after the lookup time
            event_us, _, values = point
            if ttl_us and event_us + ttl_us <= now_us:
                results[pos][view.name] = ViewValue(Status.OUTSIDE_MAX_AGE,
                                                    us_to_datetime(event_us))
            else:
                results[pos][view.name] = ViewValue(Status.PRESENT, us_to_datetime(event_us),
                                                    dict(zip(names, values, strict=True)))


def _key_values(view: OnlineView, row: Mapping[str, Any]) -> tuple[Any, ...] | None:
    values = []
    for key in view.keys:
        if key.name not in row:
            raise ValidationError(f"entity row {dict(row)!r} lacks key column {key.name!r} of "
                                  f"feature view {view.name!r}; add it to every entity row")
        value = row[key.name]
        if value is None:
            return None  # null keys match nothing
        values.append(value)
    return tuple(values)


def _now_us(now: datetime | None) -> int:
    return datetime_to_us(now or datetime.now(UTC))


def _empty(views: Sequence[OnlineView], n: int) -> list[dict[str, ViewValue]]:
    return [{v.name: _NOT_FOUND for v in views} for _ in range(n)]


def _check_views(views: Sequence[OnlineView]) -> None:
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        raise ValidationError(f"feature views {names} repeat a name; read each view once")


class OnlineReader:
    """Blocking reader (one per process; thread-safe through redis-py's connection pool)."""

    def __init__(self, online: OnlineTarget, *, timeout_s: float | None = None,
                 client: redis.Redis | RedisCluster | None = None) -> None:
        self.online = online
        self.client = client or make_client(online, timeout_s=timeout_s)
        self._planner = _Planner(online.namespace, isinstance(self.client, RedisCluster))

    def read(self, views: Sequence[OnlineView], entity_rows: Sequence[Mapping[str, Any]], *,
             now: datetime | None = None) -> list[dict[str, ViewValue]]:
        """Per entity row, per view name: status, event time and values.

        Raises:
            ValidationError: an entity row lacks a key column, or a key has the wrong type.
            OnlineStoreError: Redis is unreachable (the caller answers 503 and retries later).
        """
        _check_views(views)
        results = _empty(views, len(entity_rows))
        now_us = _now_us(now)
        pending = list(views)
        for _ in range(_MAX_ROUNDS):
            missing = self._planner.missing(pending)
            if missing:
                self._planner.learn(missing, self._execute(self._planner.pointer_cmds(missing)))
            reads, cmds = self._planner.plan(pending, entity_rows)
            replies = self._execute(cmds)
            pending = self._settle(reads, replies, results, now_us)
            if not pending:
                return results
        raise OnlineStoreError(f"{node_label(self.online)}: generation pointers kept changing "
                               "during a read; retry the request")

    def _settle(self, reads: list[_ViewRead], replies: list[Any],
                results: list[dict[str, ViewValue]], now_us: int) -> list[OnlineView]:
        return _settle(self._planner, reads, replies, results, now_us)

    def _execute(self, cmds: list[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for cmd in cmds:
                pipe.execute_command(*cmd)
            return list(pipe.execute())
        except redis.RedisError as exc:
            raise OnlineStoreError(f"{node_label(self.online)}: read failed: {exc}; "
                                   "retry once Redis is reachable") from exc

    def close(self) -> None:
        self.client.close()


def _settle(planner: _Planner, reads: list[_ViewRead], replies: list[Any],
            results: list[dict[str, ViewValue]], now_us: int) -> list[OnlineView]:
    """Decode views whose pointer did not move; return those to read again."""
    pointers = replies[len(replies) - len(reads):]
    values = planner.values_of(reads, replies)
    stale = []
    for read, raws, pointer in zip(reads, values, pointers, strict=True):
        current = None if pointer is None else int(pointer)
        if current != read.generation:
            planner.learn([read.view], [pointer])
            stale.append(read.view)
            continue
        planner.decode(read, raws, results, now_us)
    return stale


def _async_cluster(online: RedisClusterConfig, timeout: float) -> AsyncRedisCluster:
    nodes = [AsyncClusterNode(n.rpartition(":")[0], int(n.rpartition(":")[2]))
             for n in online.nodes]
    return AsyncRedisCluster(startup_nodes=nodes, socket_timeout=timeout,
                             socket_connect_timeout=timeout)


class AsyncOnlineReader:
    """The asyncio twin of :class:`OnlineReader` (for FastAPI); same plan, same decoding.

    Standalone Redis is read over one pipelined :class:`AsyncConnection`; a cluster through
    redis-py's asyncio cluster client. Callers bound :meth:`read` and :meth:`ping` with
    ``asyncio.timeout`` (a hung node is noticed that way).
    """

    def __init__(self, online: OnlineTarget, *, timeout_s: float | None = None) -> None:
        self.online = online
        timeout = timeout_s or online.socket_timeout_s
        self.connection: AsyncConnection | None = None
        self.cluster: AsyncRedisCluster | None = None
        if isinstance(online, RedisConfig):
            self.connection = AsyncConnection(parse_redis_url(online.url), timeout)
        else:
            self.cluster = _async_cluster(online, timeout)
        self._planner = _Planner(online.namespace, self.cluster is not None)

    async def read(self, views: Sequence[OnlineView], entity_rows: Sequence[Mapping[str, Any]],
                   *, now: datetime | None = None) -> list[dict[str, ViewValue]]:
        """See :meth:`OnlineReader.read`."""
        _check_views(views)
        results = _empty(views, len(entity_rows))
        now_us = _now_us(now)
        pending = list(views)
        for _ in range(_MAX_ROUNDS):
            missing = self._planner.missing(pending)
            if missing:
                cmds = self._planner.pointer_cmds(missing)
                self._planner.learn(missing, await self._execute(cmds))
            reads, cmds = self._planner.plan(pending, entity_rows)
            pending = _settle(self._planner, reads, await self._execute(cmds), results, now_us)
            if not pending:
                return results
        raise OnlineStoreError(f"{node_label(self.online)}: generation pointers kept changing "
                               "during a read; retry the request")

    async def ping(self) -> None:
        """Raises OnlineStoreError unless Redis (every cluster node) answers."""
        if self.connection is not None:
            await self._execute([("PING",)])
            return
        assert self.cluster is not None
        try:
            await self.cluster.ping()
        except (redis.RedisError, ConnectionError) as exc:
            raise OnlineStoreError(f"{node_label(self.online)}: ping failed: {exc}") from exc

    async def _execute(self, cmds: list[tuple[Any, ...]]) -> list[Any]:
        try:
            if self.connection is not None:
                replies = await self.connection.execute(
                    b"".join(command(*cmd) for cmd in cmds), len(cmds))
                for reply in replies:
                    if isinstance(reply, ReplyError):
                        raise OnlineStoreError(f"{node_label(self.online)}: read failed: "
                                               f"{reply}")
                return replies
            assert self.cluster is not None
            pipe = self.cluster.pipeline(transaction=False)
            for cmd in cmds:
                pipe.execute_command(*cmd)
            return list(await pipe.execute())
        except (redis.RedisError, ConnectionError) as exc:
            raise OnlineStoreError(f"{node_label(self.online)}: read failed: {exc}; "
                                   "retry once Redis is reachable") from exc

    async def aclose(self) -> None:
        if self.connection is not None:
            await self.connection.aclose()
        if self.cluster is not None:
            await self.cluster.aclose()
