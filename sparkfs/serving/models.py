"""Request and response bodies of the serving API (pydantic only; FastAPI reads them for
validation and the OpenAPI document).

Response value fields are ``Any`` and times pre-formatted ISO strings: the server builds them
from typed online values, and re-validating a union of scalars and re-parsing thousands of
timestamps per response would cost more than the Redis read.

Entity values are strict: ``1`` is an integer key and ``"1"`` a string key, never coerced, so
a request cannot silently read another entity than the one it named.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

__all__ = [
    "EntityValue",
    "ErrorBody",
    "FeastErrorBody",
    "FeastRequest",
    "FeastResponse",
    "FeatureServiceInfo",
    "FeatureValue",
    "FeatureViewInfo",
    "LookupRequest",
    "LookupResponse",
]

EntityValue = StrictInt | StrictStr | None
StatusName = Literal["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"]
Entities = Annotated[
    dict[Annotated[str, Field(max_length=128)], list[EntityValue]],
    Field(description="entity key columns as parallel lists (one element per entity row)",
          examples=[{"user_id": [1, 2, 3]}]),
]
FeatureRefs = Annotated[
    list[Annotated[str, Field(max_length=256)]],
    Field(max_length=1000, examples=[["user_profile:age", "user_txn_aggs:*"]]),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LookupRequest(_Strict):
    """Give ``features`` (``view:feature`` or ``view:*``) or ``feature_service``, not both."""

    features: FeatureRefs | None = None
    feature_service: Annotated[str, Field(max_length=128)] | None = None
    entities: Entities


class FeatureValue(BaseModel):
    value: Any = Field(default=None, description="a JSON scalar (number, string, boolean) or null")
    status: StatusName
    event_time: str | None = Field(default=None, description="UTC event time of the value, ISO 8601 "
                                   "(e.g. 2026-11-27T05:00:00Z)", examples=["2026-11-27T05:00:00Z"])


class LookupRow(BaseModel):
    entity: dict[str, EntityValue]
    features: dict[str, FeatureValue] = Field(description="keyed by view:feature")


class LookupResponse(BaseModel):
    features: list[str] = Field(description="the resolved view:feature columns, in order")
    rows: list[LookupRow]


class FeastRequest(BaseModel):
    """Feast's feature-server ``/get-online-features`` request (unknown fields ignored, as
    Feast's own server does).

    Entity values are taken as sent and converted to their key's type afterwards, where
    lossless (``sparkfs.serving.feast_dialect``): Feast's client sends ``"1"`` for an integer
    key as readily as ``1``. ``feature_service`` wins over an empty ``features``.
    """

    model_config = ConfigDict(extra="ignore")

    features: FeatureRefs | None = None
    feature_service: Annotated[str, Field(max_length=128)] | None = None
    entities: Annotated[
        dict[Annotated[str, Field(max_length=128)],
             list[StrictInt | StrictFloat | StrictStr | StrictBool | None]],
        Field(description="entity key columns as parallel lists; \"1\" and 1.0 are read as "
                          "the integer key 1, 1 as the string key \"1\"",
              examples=[{"user_id": [1, 2, 3]}]),
    ]
    full_feature_names: bool = False
    include_feature_view_version_metadata: bool = Field(
        default=False, description="add metadata.feature_view_metadata: the views read")


class FeastViewMetadata(BaseModel):
    name: str
    definition_version: str = Field(description="sparkfs's definition version (content hash)")


class FeastMetadata(BaseModel):
    feature_names: list[str]
    feature_view_metadata: list[FeastViewMetadata] | None = Field(
        default=None, description="only with include_feature_view_version_metadata")


class FeastVector(BaseModel):
    values: list[Any] = Field(description="JSON scalars or null, one per entity row")
    statuses: list[str]
    event_timestamps: list[str]


class FeastResponse(BaseModel):
    """Column-oriented: ``results[i]`` holds column ``metadata.feature_names[i]`` for every
    entity row; entity key columns come first."""

    metadata: FeastMetadata
    results: list[FeastVector]


class SyncInfo(BaseModel):
    definition_version: str
    delta_version: int
    generation: int
    synced_at: datetime
    age_s: float = Field(description="seconds since the last successful sync")
    current: bool = Field(description="the last sync wrote the served definition version")


class FeatureInfo(BaseModel):
    name: str
    type: str


class FeatureViewInfo(BaseModel):
    name: str
    version: str
    entity_keys: list[FeatureInfo]
    features: list[FeatureInfo]
    ttl_s: float | None
    owner: str
    description: str
    last_sync: SyncInfo | None


class FeatureServiceInfo(BaseModel):
    name: str
    version: str
    features: list[str]
    feature_views: list[str]
    description: str


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class FeastErrorBody(RootModel[str]):
    """Feast's error body on ``/get-online-features``: a JSON string holding a JSON document
    ``{"module": "feast.errors", "class": "<Feast exception>", "message": "..."}``, which
    Feast's client turns into that exception."""
