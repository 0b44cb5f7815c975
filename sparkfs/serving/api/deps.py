"""Dependencies injected into the routes with ``Depends`` (overridable in tests).

All are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, which costs
more than the whole Redis read on the one-entity path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sparkfs.pipeline.serving_catalog import Catalog
from sparkfs.serving.auth import Principal
from sparkfs.serving.runtime import ServingRuntime

__all__ = ["Caller", "CallerDep", "CatalogDep", "PrincipalDep", "RuntimeDep", "caller_of"]


async def get_runtime(request: Request) -> ServingRuntime:
    runtime: ServingRuntime = request.app.state.sparkfs
    return runtime


RuntimeDep = Annotated[ServingRuntime, Depends(get_runtime)]


async def get_catalog(runtime: RuntimeDep) -> Catalog:
    return runtime.catalog


@dataclass(frozen=True)
class Caller:
    """Everything a lookup route needs, resolved by one dependency: the runtime, the catalog
    snapshot the whole request uses, and the authenticated caller."""

    runtime: ServingRuntime
    catalog: Catalog
    principal: Principal


def caller_of(runtime: ServingRuntime, authorization: str | None,
              x_api_key: str | None) -> Caller:
    """Authenticate the key headers (AuthError, 401) and pin the catalog snapshot."""
    return Caller(runtime, runtime.catalog, runtime.keys.authenticate(authorization, x_api_key))


async def get_caller(request: Request) -> Caller:
    """Reads the key headers itself: declared ``Header`` parameters cost FastAPI a per-request
    type analysis that is a sizeable part of a one-entity lookup."""
    headers = request.headers
    return caller_of(request.app.state.sparkfs, headers.get("authorization"),
                     headers.get("x-api-key"))


async def get_principal(request: Request) -> Principal:
    return (await get_caller(request)).principal


CallerDep = Annotated[Caller, Depends(get_caller)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
