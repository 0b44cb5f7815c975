"""Prometheus metrics of one app, on its own ``CollectorRegistry`` (two apps in one process,
as in tests, never clash), and a plain ASGI middleware that times every request.

The middleware is raw ASGI rather than ``BaseHTTPMiddleware``: it adds a few microseconds per
request instead of a task and a stream copy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["MetricsMiddleware", "ServingMetrics"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5)


class ServingMetrics:
    """Request counts and latencies per endpoint, Redis errors, cache hits, catalog size."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("sparkfs_http_requests_total", "HTTP requests by endpoint",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("sparkfs_http_request_duration_seconds",
                                 "HTTP request latency by endpoint", ["endpoint"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.redis_errors = Counter("sparkfs_redis_errors_total",
                                    "Online store reads that failed or timed out",
                                    registry=self.registry)
        self.cache = Counter("sparkfs_cache_lookups_total",
                             "Entity rows answered from the in-process cache (hit) or not (miss)",
                             ["result"], registry=self.registry)
        self.served_views = Gauge("sparkfs_served_feature_views", "Feature views being served",
                                  registry=self.registry)
        self.catalog_refreshes = Counter("sparkfs_catalog_refreshes_total",
                                         "Registry polls by outcome", ["outcome"],
                                         registry=self.registry)
        self._hit = self.cache.labels("hit")
        self._miss = self.cache.labels("miss")

    # LookupObserver -------------------------------------------------------------------------
    def cache_hits(self, n: int) -> None:
        if n:
            self._hit.inc(n)

    def cache_misses(self, n: int) -> None:
        if n:
            self._miss.inc(n)

    def redis_error(self) -> None:
        self.redis_errors.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times HTTP requests by route template (``/v1/features:lookup``), so that
    path parameters or junk paths never create unbounded label values."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "") if route is not None else "-"
            self._observe(endpoint, method, status,
                          time.perf_counter() - started)

    def _observe(self, endpoint: str, method: str, status: int, elapsed: float) -> None:
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.metrics.requests.labels(endpoint, method, str(status)),
                        self.metrics.latency.labels(endpoint))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
