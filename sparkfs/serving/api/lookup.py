"""Online lookups: ``POST /v1/features:lookup`` and Feast's ``POST /get-online-features``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from sparkfs.serving.api.deps import Caller, CallerDep
from sparkfs.serving.lookup import LookupResult, plan_lookup
from sparkfs.serving.models import (
    ErrorBody,
    FeastRequest,
    FeastResponse,
    LookupRequest,
    LookupResponse,
)
from sparkfs.serving.shapes import feast_response, rows_response

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [(401, "missing or invalid API key"), (403, "outside the key's scopes"),
                         (404, "unknown feature view, feature or service"),
                         (413, "more entities than serving.max_entities"),
                         (422, "invalid request (the message names the field)"),
                         (503, "online store unreachable; retry")]
}

router = APIRouter(tags=["lookup"], responses=_ERRORS)


def _json(payload: dict[str, Any]) -> Response:
    """The body rendered once by orjson. The shapes module builds exactly the declared response
    models (the OpenAPI document and the schema tests hold it to them); letting FastAPI
    re-validate and re-serialise every value through them cost more than the Redis read."""
    return Response(orjson.dumps(payload), media_type="application/json")


async def _lookup(caller: Caller, body: LookupRequest | FeastRequest) -> LookupResult:
    plan = plan_lookup(caller.catalog, body.features, body.feature_service)
    caller.runtime.keys.authorize(caller.principal, plan)
    return await caller.runtime.lookup.lookup(caller.catalog, body.entities, plan=plan)


@router.post("/v1/features:lookup", response_model=LookupResponse)
async def lookup_features(body: LookupRequest, caller: CallerDep) -> Any:
    """Latest value, event time and status of each feature for each entity row.

    Status is PRESENT, NOT_FOUND (no value, or a null key) or OUTSIDE_MAX_AGE (older than the
    view's ttl; the value is withheld, its event time given). One Redis round trip.
    """
    result = await _lookup(caller, body)
    return _json(rows_response(result))


@router.post("/get-online-features", response_model=FeastResponse)
async def get_online_features(body: FeastRequest, caller: CallerDep) -> Any:
    """The same lookup in Feast's feature-server shape (column-oriented, entity keys first)."""
    result = await _lookup(caller, body)
    return _json(feast_response(result, body.full_feature_names))
