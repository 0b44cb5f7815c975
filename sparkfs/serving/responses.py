"""Response bodies shared by the routes and the app's error handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from sparkfs.errors import SparkfsError
from sparkfs.serving.echo import excerpt, short_message
from sparkfs.serving.feast_dialect import feast_error_detail

__all__ = ["error_response", "feast_error_response", "json_response", "validation_message"]

log = logging.getLogger(__name__)


def error_response(exc: SparkfsError) -> JSONResponse:
    """``{"error": {"type", "message"}}`` with the error's own HTTP status (the message cut to
    :data:`~sparkfs.serving.limits.MAX_MESSAGE_CHARS`)."""
    _log(exc)
    return JSONResponse({"error": {"type": type(exc).__name__, "message": short_message(str(exc))}},
                        status_code=exc.http_status)


def feast_error_response(exc: SparkfsError) -> JSONResponse:
    """Feast's error body (a JSON string naming a ``feast.errors`` class, see
    :func:`feast_dialect.feast_error_detail`) with the error's own HTTP status."""
    _log(exc)
    return JSONResponse(feast_error_detail(exc), status_code=exc.http_status)


def _log(exc: SparkfsError) -> None:
    if exc.http_status >= 500 and exc.http_status != 503:
        log.error("request failed: %s: %s", type(exc).__name__, short_message(str(exc)))


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """pydantic / FastAPI validation errors as ``field.path: problem; ...`` (first five)."""
    problems = []
    for item in errors[:5]:
        loc = ".".join(excerpt(p, quote=False) for p in item.get("loc", ()) if p != "body") or "body"
        problems.append(f"{loc}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request body"


#: datetimes as ``2026-11-27T05:00:00Z`` / ``...:00.000009Z``: exactly ``shapes.iso_utc``.
_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def json_response(payload: Any) -> Response:
    """A body rendered once by orjson (the lookup routes build exactly their declared response
    models; FastAPI re-validating and re-serialising every value cost more than the Redis read).
    ``datetime`` values are printed in UTC with a ``Z``, as :func:`shapes.iso_utc` does."""
    return Response(orjson.dumps(payload, option=_ORJSON_OPTIONS), media_type="application/json")
