"""What is served: ``GET /v1/feature-views`` and ``GET /v1/feature-services``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from sparkfs.pipeline.serving_catalog import ServedService, ServedView, freshness
from sparkfs.serving.api.deps import CatalogDep, PrincipalDep, RuntimeDep
from sparkfs.serving.models import (
    ErrorBody,
    FeatureInfo,
    FeatureServiceInfo,
    FeatureViewInfo,
    SyncInfo,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["catalog"],
                   responses={401: {"model": ErrorBody, "description": "invalid API key"}})


def _view_info(view: ServedView, now: datetime) -> FeatureViewInfo:
    sync = None
    if view.sync is not None:
        age = freshness(view.sync, now)
        sync = SyncInfo(definition_version=view.sync.definition_version,
                        delta_version=view.sync.delta_version, generation=view.sync.generation,
                        synced_at=view.sync.updated_at,
                        age_s=age.total_seconds() if age is not None else 0.0,
                        current=view.sync.definition_version == view.version)
    online = view.online
    return FeatureViewInfo(
        name=view.name, version=view.version,
        entity_keys=[FeatureInfo(name=k.name, type=k.dtype) for k in online.keys],
        features=[FeatureInfo(name=f.name, type=f.dtype) for f in online.features],
        ttl_s=online.ttl.total_seconds() if online.ttl else None,
        owner=view.definition.owner, description=view.definition.description, last_sync=sync)


def _service_info(service: ServedService) -> FeatureServiceInfo:
    return FeatureServiceInfo(
        name=service.name, version=service.version,
        features=[c.ref for c in service.columns],
        feature_views=list(dict.fromkeys(c.view for c in service.columns)),
        description=service.definition.description)


@router.get("/feature-views", response_model=list[FeatureViewInfo])
async def list_feature_views(catalog: CatalogDep, principal: PrincipalDep,
                             runtime: RuntimeDep) -> list[FeatureViewInfo]:
    """Served views (online, applied, approved) the key may read, with the last sync."""
    now = runtime.clock()
    return [_view_info(v, now) for name, v in sorted(catalog.views.items())
            if principal.may_read(name)]


@router.get("/feature-services", response_model=list[FeatureServiceInfo])
async def list_feature_services(catalog: CatalogDep,
                                principal: PrincipalDep) -> list[FeatureServiceInfo]:
    """Served feature services the key may read."""
    return [_service_info(s) for name, s in sorted(catalog.services.items())
            if principal.may_read(name) or all(principal.may_read(c.view) for c in s.columns)]
