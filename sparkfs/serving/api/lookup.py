"""Online lookups: ``POST /v1/features:lookup`` and Feast's ``POST /get-online-features``.

Both routes are :class:`LookupRoute` s: FastAPI documents them from the endpoint signatures as
usual, but a request is handled without FastAPI's per-request machinery (dependency solving,
``json.loads`` then validation of the parsed value): the body bytes are validated by pydantic's
core in one step (``model_validate_json``), the caller is resolved from the raw headers, and
the endpoint is called with both. On a one-entity lookup that machinery cost more CPU than the
lookup itself (it halved the app's CPU per request). Errors keep the app's statuses (401 before
422, as FastAPI orders a dependency's error before the body's); their body is the app's
``{"error": ...}`` on sparkfs's endpoint and Feast's error detail on Feast's (:class:`FeastRoute`).
"""

from __future__ import annotations

import email.message
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from sparkfs.errors import SparkfsError, ValidationError
from sparkfs.serving.api.deps import Caller, CallerDep, caller_of
from sparkfs.serving.feast_dialect import check_column_names, entity_columns, plan_feast_lookup
from sparkfs.serving.lookup import LookupResult, plan_lookup
from sparkfs.serving.models import (
    ErrorBody,
    FeastErrorBody,
    FeastRequest,
    FeastResponse,
    LookupRequest,
    LookupResponse,
)
from sparkfs.serving.responses import (
    error_response,
    feast_error_response,
    json_response,
    validation_message,
)
from sparkfs.serving.shapes import feast_response, rows_response

__all__ = ["FeastRoute", "LookupRoute", "router"]

_STATUSES = [(401, "missing or invalid API key"), (403, "outside the key's scopes"),
             (404, "unknown feature view, feature or service"),
             (413, "more entities than serving.max_entities"),
             (422, "invalid request (the message names the field)"),
             (503, "online store unreachable; retry")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _STATUSES}
_FEAST_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": FeastErrorBody, "description": text} for status, text in _STATUSES}

Endpoint = Callable[[Any, Caller], Awaitable[Response]]


class LookupRoute(APIRoute):
    """An ``APIRoute`` whose endpoint is ``async def f(body: Model, caller: CallerDep)``
    returning a Response, served by its own handler instead of FastAPI's (FastAPI's documented
    extension point: ``get_route_handler``). Errors are rendered by :attr:`render_error`."""

    render_error: Callable[[SparkfsError], Response] = staticmethod(error_response)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        body_model: type[pydantic.BaseModel] = typing.get_type_hints(self.endpoint)["body"]
        endpoint: Endpoint = self.endpoint
        render_error = self.render_error

        async def handle(request: Request) -> Response:
            authorization = x_api_key = content_type = None
            for name, value in request.scope["headers"]:
                if name == b"authorization":
                    authorization = value.decode("latin-1")
                elif name == b"x-api-key":
                    x_api_key = value.decode("latin-1")
                elif name == b"content-type":
                    content_type = value.decode("latin-1")
            raw = await request.body()
            try:
                caller = caller_of(request.app.state.sparkfs, authorization, x_api_key)
                _check_json(content_type)
                try:
                    body = body_model.model_validate_json(raw)
                except pydantic.ValidationError as exc:
                    raise ValidationError(validation_message(exc.errors())) from None
                return await endpoint(body, caller)
            except SparkfsError as exc:
                return render_error(exc)

        return handle


class FeastRoute(LookupRoute):
    """A :class:`LookupRoute` answering errors in Feast's shape, which Feast's client raises as
    Feast's own exception classes (``feast_dialect.feast_error_class``)."""

    render_error = staticmethod(feast_error_response)


def _check_json(content_type: str | None) -> None:
    """JSON bodies only, like FastAPI's strict content type: ``application/json`` or
    ``application/*+json``."""
    if content_type is not None:
        if content_type.startswith("application/json"):
            return
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")):
            return
    raise ValidationError(f"body: expected a JSON body with Content-Type: application/json, "
                          f"got {content_type or 'no Content-Type'}")


router = APIRouter(tags=["lookup"], responses=_ERRORS, route_class=LookupRoute)


async def _lookup(caller: Caller, body: LookupRequest) -> LookupResult:
    plan = plan_lookup(caller.catalog, body.features, body.feature_service)
    caller.runtime.keys.authorize(caller.principal, plan)
    return await caller.runtime.lookup.lookup(caller.catalog, body.entities, plan=plan)


@router.post("/v1/features:lookup", response_model=LookupResponse)
async def lookup_features(body: LookupRequest, caller: CallerDep) -> Response:
    """Latest value, event time and status of each feature for each entity row.

    Status is PRESENT, NOT_FOUND (no value, or a null key) or OUTSIDE_MAX_AGE (older than the
    view's ttl; the value is withheld, its event time given). One Redis round trip.
    """
    result = await _lookup(caller, body)
    return json_response(rows_response(result, iso=False))


async def get_online_features(body: FeastRequest, caller: CallerDep) -> Response:
    """The same lookup in Feast's feature-server shape (column-oriented, entity keys first),
    accepting what Feast's server accepts where lossless; errors in Feast's shape.

    Colliding column names (the same feature name from two views, with full_feature_names
    false) are refused, as Feast refuses them (FeatureNameCollisionError).
    """
    plan = plan_feast_lookup(caller.catalog, body.features, body.feature_service)
    caller.runtime.keys.authorize(caller.principal, plan)
    echoed = entity_columns(caller.catalog, plan, body.entities)
    check_column_names(echoed, plan, body.full_feature_names)
    keys = {k: v for k, v in echoed.items() if k in plan.key_types}
    result = await caller.runtime.lookup.lookup(caller.catalog, keys, plan=plan)
    return json_response(feast_response(
        result, body.full_feature_names, iso=False, entities=echoed,
        version_metadata=body.include_feature_view_version_metadata))


router.add_api_route("/get-online-features", get_online_features, methods=["POST"],
                     response_model=FeastResponse, responses=_FEAST_ERRORS,
                     route_class_override=FeastRoute)
