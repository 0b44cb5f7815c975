"""Brute-force oracles and Redis dumps for the online-store tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.online.generations import Generations
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix, datetime_to_us
from sparkfs.online.topology import make_client
from sparkfs.online.view import OnlineView

Entity = tuple[Any, ...]
Stored = tuple[int, int, tuple[Any, ...]]  # event_us, ingested_us, values


def latest_oracle(rows: list[dict[str, Any]], view: OnlineView, now: datetime) -> dict[Entity, Stored]:
    """Latest row per entity within ttl, ties on event time broken by latest ingestion."""
    best: dict[Entity, tuple[Any, ...]] = {}
    for row in rows:
        key = tuple(row[k] for k in view.key_names)
        ev = row["event_timestamp"]
        if any(k is None for k in key) or ev is None:
            continue
        if view.ttl is not None and not ev > now - view.ttl:
            continue
        ing = row["_ingested_at"]
        rank = (datetime_to_us(ev), datetime_to_us(ing) if ing is not None else 0)
        values = tuple(row[f] for f in view.feature_names)
        if key not in best or rank > best[key][0]:  # tests never repeat (event, ingested)
            best[key] = (rank, values)
    return {k: (r[0], r[1], v) for k, (r, v) in best.items()}


def dump(online: RedisConfig | RedisClusterConfig, view: OnlineView) -> dict[Entity, Stored]:
    """Every entity of the live generation of ``view``, decoded."""
    client = make_client(online)
    try:
        gen = Generations(client, online.namespace).live(view.name, view.version)
        if gen is None:
            return {}
        prefix = data_prefix(online.namespace, view.name, view.version, gen)
        keys, values = EntityKeyCodec(view), ValueCodec(view)
        out = {}
        for key in client.scan_iter(match=prefix + b"*", count=1000):
            raw = client.get(key)
            if raw is None:
                continue
            ev, ing, vals = values.decode(raw)
            out[keys.decode(key[len(prefix):])] = (ev, ing, tuple(vals))
        return out
    finally:
        client.close()


def all_keys(online: RedisConfig | RedisClusterConfig) -> list[bytes]:
    client = make_client(online)
    try:
        return sorted(client.scan_iter(count=1000))
    finally:
        client.close()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
