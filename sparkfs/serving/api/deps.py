"""Dependencies injected into the routes with ``Depends`` (overridable in tests).

All are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, which costs
more than the whole Redis read on the one-entity path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from sparkfs.config import ServingConfig
from sparkfs.serving.auth import Principal
from sparkfs.serving.catalog import Catalog
from sparkfs.serving.runtime import ServingRuntime

__all__ = ["CatalogDep", "PrincipalDep", "RuntimeDep", "SettingsDep"]


async def get_runtime(request: Request) -> ServingRuntime:
    runtime: ServingRuntime = request.app.state.sparkfs
    return runtime


RuntimeDep = Annotated[ServingRuntime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> ServingConfig:
    return runtime.settings.serving


async def get_catalog(runtime: RuntimeDep) -> Catalog:
    return runtime.catalog


async def get_principal(runtime: RuntimeDep,
                  authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
                  x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
                  ) -> Principal:
    return runtime.keys.authenticate(authorization, x_api_key)


SettingsDep = Annotated[ServingConfig, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
