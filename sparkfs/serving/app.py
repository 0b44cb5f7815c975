"""The FastAPI app factory: routers, lifespan, the one error handler, metrics.

There is no module-level app. ``create_app(settings)`` builds one; ``sparkfs serve`` runs
:func:`app_from_env` through uvicorn's factory mode, so every worker process builds its own app
(own Redis pool, own catalog, own metrics registry) from ``$SPARKFS_CONFIG``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sparkfs.clock import Clock, utc_now
from sparkfs.config import SparkfsConfig, load_config
from sparkfs.errors import SparkfsError, ValidationError
from sparkfs.pipeline.workspace import Workspace
from sparkfs.serving.api import catalog, lookup, ops, reviews
from sparkfs.serving.limits import BodyLimitMiddleware
from sparkfs.serving.metrics import MetricsMiddleware
from sparkfs.serving.responses import error_response, validation_message
from sparkfs.serving.runtime import ServingRuntime

__all__ = ["app_from_env", "create_app"]


async def _sparkfs_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SparkfsError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (unknown path 404, wrong method 405) in the same ``{"error": ...}`` body
    as every other error."""
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "NotFoundError", 405: "MethodNotAllowedError"}.get(exc.status_code, "HTTPError")
    hint = {404: "; GET /docs lists the endpoints",
            405: f"; {request.url.path} does not answer {request.method}"}.get(exc.status_code, "")
    return JSONResponse({"error": {"type": kind, "message": f"{exc.detail}{hint}"}},
                        status_code=exc.status_code, headers=exc.headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's body validation errors, re-raised as sparkfs ValidationError (same body)."""
    assert isinstance(exc, RequestValidationError)
    return error_response(ValidationError(validation_message(exc.errors())))


def create_app(settings: SparkfsConfig, *, workspace: Workspace | None = None,
               clock: Clock = utc_now) -> FastAPI:
    """Build the serving app for a project.

    Args:
        settings: the project config (``serving``, ``online`` and ``registry`` sections).
        workspace: an already opened workspace (tests, notebooks); opened from ``settings``
            otherwise.
        clock: the lookup time of every online read and of freshness figures (the system
            clock; tests pass one they move).
    """
    ws = workspace or Workspace.open(settings)
    runtime = ServingRuntime(settings, ws, clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        # Everything built so far (app, routes, models, catalog) lives as long as the process:
        # moving it out of the collector's generations keeps full collections short, which is
        # what otherwise shows up as multi-millisecond stalls in the tail latency.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="sparkfs online features",
        version="1",
        description="Online feature lookups over Redis: approved feature views only, one Redis "
                    "round trip per request, Feast-compatible /get-online-features.",
        lifespan=lifespan,
    )
    app.state.sparkfs = runtime
    app.include_router(lookup.router)
    app.include_router(catalog.router)
    app.include_router(ops.router)
    app.include_router(reviews.router)
    app.add_exception_handler(SparkfsError, _sparkfs_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.serving.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)  # outermost: counts the 413s
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: the config named by ``$SPARKFS_CONFIG`` (or ``conf/sparkfs.yaml``)."""
    return create_app(load_config())
