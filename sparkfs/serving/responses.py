"""Response bodies shared by the routes and the app's error handlers."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from sparkfs.echo import excerpt, short_message
from sparkfs.errors import SparkfsError
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


#: pydantic's tags of the members of an entity value's union (int | str | None).
_UNION_TAGS = frozenset({"int", "str", "none"})


def _entity_value(loc: tuple[Any, ...]) -> str | None:
    """``entities.<key>[<i>]`` for an error inside one entity key value, else ``None``."""
    parts = [p for p in loc if p != "body"]
    if parts and parts[-1] in _UNION_TAGS:
        parts = parts[:-1]
    if len(parts) == 3 and parts[0] == "entities" and isinstance(parts[2], int):
        return f"entities.{excerpt(parts[1], quote=False)}[{parts[2]}]"
    return None


def _json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """pydantic / FastAPI validation errors as ``field.path: problem; ...`` (first five).

    A bad entity key value is one problem, said as the lookup says it (``entities.user_id[0]:
    1001.0 is not an integer or a string``), not one line per member of the value's type.
    """
    problems: dict[str, str] = {}
    for item in errors:
        loc = tuple(item.get("loc", ()))
        where = _entity_value(loc)
        if where is not None:
            problems.setdefault(where, f"{where}: {excerpt(_json(item.get('input')), quote=False)} is "
                                       "not an integer or a string; entity keys are JSON "
                                       "integers (int64 keys) or strings")
        else:
            path = ".".join(excerpt(p, quote=False) for p in loc if p != "body") or "body"
            problems.setdefault(f"{path}#{len(problems)}", f"{path}: {item.get('msg', 'invalid')}")
        if len(problems) == 5:
            break
    return "; ".join(problems.values()) or "invalid request body"


#: datetimes as ``2026-11-27T05:00:00Z`` / ``...:00.000009Z``: exactly ``shapes.iso_utc``.
_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def json_response(payload: Any) -> Response:
    """A body rendered once by orjson (the lookup routes build exactly their declared response
    models; FastAPI re-validating and re-serialising every value cost more than the Redis read).
    ``datetime`` values are printed in UTC with a ``Z``, as :func:`shapes.iso_utc` does."""
    return Response(orjson.dumps(payload, option=_ORJSON_OPTIONS), media_type="application/json")
