"""The state one serving process holds: catalog, reader, keys, metrics, the refresh loop.

Kept free of FastAPI so its lifecycle (open, refresh, close) is testable and reusable; the app
factory stores one :class:`ServingRuntime` on ``app.state`` and its lifespan drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from sparkfs.clock import Clock, utc_now
from sparkfs.config import SparkfsConfig
from sparkfs.errors import OnlineStoreError, TamperedRegistryError
from sparkfs.online.reader import AsyncOnlineReader
from sparkfs.pipeline.serving_catalog import Catalog, CatalogSource
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.integrity import require_intact
from sparkfs.serving.auth import ApiKeys
from sparkfs.serving.cache import ValueCache
from sparkfs.serving.lookup import OnlineLookup
from sparkfs.serving.metrics import ServingMetrics

__all__ = ["ServingRuntime"]

log = logging.getLogger(__name__)

#: The server re-verifies the registry at least this often (seconds), besides every change.
VERIFY_EVERY_S = 60.0


@dataclass
class ServingRuntime:
    settings: SparkfsConfig
    workspace: Workspace
    clock: Clock = utc_now
    metrics: ServingMetrics = field(default_factory=ServingMetrics)
    source: CatalogSource = field(init=False)
    keys: ApiKeys = field(init=False)
    lookup: OnlineLookup = field(init=False)
    integrity_problem: str | None = field(default=None, init=False)
    _verified_at: float = field(default=0.0, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        serving = self.settings.serving
        self.source = CatalogSource(self.workspace)
        self.keys = ApiKeys(serving)
        cache = (ValueCache(serving.cache.max_entries, serving.cache.ttl_s)
                 if serving.cache.enabled else None)
        reader = AsyncOnlineReader(self.settings.online, timeout_s=serving.redis_timeout_s)
        self.lookup = OnlineLookup(reader, timeout_s=2 * serving.redis_timeout_s,
                                   max_entities=serving.max_entities, cache=cache,
                                   observer=self.metrics, clock=self.clock)

    @property
    def catalog(self) -> Catalog:
        return self.source.catalog

    async def start(self) -> None:
        """Load the catalog (a registry failure here is fatal: nothing to serve, and neither
        is a registry that fails verification) and start polling the registry."""
        await asyncio.to_thread(self._refresh_verified, True)
        self.metrics.served_views.set(len(self.catalog.views))
        await self._warm()
        self._task = asyncio.create_task(self._poll(), name="sparkfs-catalog-refresh")

    async def refresh_now(self) -> bool:
        """One registry poll; keeps the old catalog if the registry cannot be read."""
        try:
            changed = await asyncio.to_thread(self._refresh_verified)
        except TamperedRegistryError as exc:
            log.error("registry fails verification, serving the last verified catalog and "
                      "answering /readyz 503: %s", exc)
            self.metrics.catalog_refreshes.labels("error").inc()
            return False
        except Exception as exc:  # a registry outage or a bad head must not stop serving
            log.warning("registry refresh failed, serving the previous catalog: %s", exc)
            self.metrics.catalog_refreshes.labels("error").inc()
            return False
        self.metrics.catalog_refreshes.labels("changed" if changed else "unchanged").inc()
        if changed:
            self.metrics.served_views.set(len(self.catalog.views))
            await self._warm()
        return changed

    def _refresh_verified(self, force: bool = False) -> bool:
        """Refresh the catalog; verify the registry whenever the catalog changed (and at least
        every :data:`VERIFY_EVERY_S`), putting the previous catalog back if it fails."""
        before = self.source.catalog
        changed = self.source.refresh()
        if force or changed or time.monotonic() - self._verified_at > VERIFY_EVERY_S:
            try:
                require_intact(self.workspace.engine, "the server")
            except TamperedRegistryError as exc:
                self.source.catalog = before
                self.source.invalidate()  # rebuilt, and verified again, on the next refresh
                self.integrity_problem = str(exc)
                raise
            self.integrity_problem = None
            self._verified_at = time.monotonic()
        return changed

    async def _poll(self) -> None:
        period = self.settings.serving.registry_refresh_s
        while True:
            await asyncio.sleep(period)
            await self.refresh_now()

    async def _warm(self) -> None:
        """Learn every served view's live generation now (an empty read sends only the pointer
        reads), so the first request of each view takes one round trip, not two."""
        views = [v.online for v in self.catalog.views.values()]
        if not views:
            return
        try:
            async with asyncio.timeout(2 * self.settings.serving.redis_timeout_s):
                await self.lookup.reader.read(views, [])
        except (OnlineStoreError, TimeoutError) as exc:
            log.warning("could not warm generation pointers (Redis down?): %s", exc)

    async def ping(self) -> None:
        """Raises TamperedRegistryError (503) while the registry fails verification, and
        OnlineStoreError (503) unless Redis answers within the serving timeout."""
        if self.integrity_problem is not None:
            raise TamperedRegistryError(self.integrity_problem)
        try:
            async with asyncio.timeout(self.settings.serving.redis_timeout_s):
                await self.lookup.reader.ping()
        except Exception as exc:  # redis errors, timeouts, OS errors: all mean "not ready"
            self.metrics.redis_error()
            raise OnlineStoreError(f"online store is not reachable: {exc or 'timeout'}; "
                                   "the server keeps retrying") from exc

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lookup.aclose()
        self.workspace.engine.dispose()
