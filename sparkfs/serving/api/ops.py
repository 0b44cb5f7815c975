"""Operations: ``/healthz`` (process alive), ``/readyz`` (Redis reachable), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from sparkfs.serving.api.deps import RuntimeDep
from sparkfs.serving.models import ErrorBody

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (liveness); says nothing about Redis."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorBody, "description": "Redis unreachable"}})
async def readyz(runtime: RuntimeDep) -> dict[str, str | int]:
    """Ready when Redis answers a PING within ``serving.redis_timeout_s``."""
    await runtime.ping()
    return {"status": "ready", "feature_views": len(runtime.catalog.views)}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition of this app's registry."""
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
