"""``SparkfsClient``: a small blocking HTTP client for the sparkfs feature server.

Errors come back as the same :mod:`sparkfs.errors` classes the server raised (mapped from the
HTTP status), so callers handle a 404 from the server like a NotFoundError from the library.

Example::

    with SparkfsClient("http://features:6566", api_key="...") as fs:
        rows = fs.lookup({"user_id": [1, 2]}, features=["user_profile:age"])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sparkfs.errors import (
    AuthError,
    FeatureNameCollisionError,
    LimitExceededError,
    NotFoundError,
    OnlineStoreError,
    SparkfsError,
    ValidationError,
)
from sparkfs.serving.auth import ForbiddenError

__all__ = ["SparkfsClient"]

_BY_STATUS: dict[int, type[SparkfsError]] = {
    401: AuthError, 403: ForbiddenError, 404: NotFoundError, 413: LimitExceededError,
    422: ValidationError, 503: OnlineStoreError,
}


class SparkfsClient:
    """Keep-alive client for ``/v1/features:lookup``, ``/get-online-features``, the
    catalog and health endpoints, and review actions (``/v1/reviews``).

    Args:
        base_url: e.g. ``http://127.0.0.1:6566``.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout_s: per request; the server answers 503 itself within ``redis_timeout_s``.
        transport: an httpx transport (tests pass ``httpx.MockTransport`` or a WSGI/ASGI one).
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s,
                                  transport=transport)

    def lookup(self, entities: Mapping[str, Sequence[Any]], *,
               features: Sequence[str] | None = None,
               feature_service: str | None = None) -> dict[str, Any]:
        """``{"features": [...], "rows": [{"entity", "features": {ref: {value, status,
        event_time}}}]}``."""
        body = _body(entities, features, feature_service)
        return self._call("POST", "/v1/features:lookup", body)  # type: ignore[no-any-return]

    def get_online_features(self, entities: Mapping[str, Sequence[Any]], *,
                            features: Sequence[str] | None = None,
                            feature_service: str | None = None,
                            full_feature_names: bool = False) -> dict[str, Any]:
        """Feast's response shape (``metadata.feature_names`` + column-oriented ``results``).

        Raises:
            FeatureNameCollisionError: two features share a name and ``full_feature_names``
                is false (use ``full_feature_names=True``).
        """
        body = {**_body(entities, features, feature_service),
                "full_feature_names": full_feature_names}
        return self._call("POST", "/get-online-features", body)  # type: ignore[no-any-return]

    def feature_views(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/feature-views")  # type: ignore[no-any-return]

    def feature_services(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/feature-services")  # type: ignore[no-any-return]

    def review(self, action: str, name: str, *, version: str | None = None,
               kind: str | None = None, comment: str = "") -> dict[str, Any]:
        """``request``, ``approve``, ``reject`` or ``deprecate`` a definition version as this
        client's API key (it needs the ``review`` scope); returns the version's new state."""
        body: dict[str, Any] = {"comment": comment}
        if version is not None:
            body["version"] = version
        if kind is not None:
            body["kind"] = kind
        return self._call("POST", f"/v1/reviews/{name}/{action}", body)  # type: ignore[no-any-return]

    def ready(self) -> bool:
        """Whether the server answers /readyz with 200 (Redis reachable)."""
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise OnlineStoreError(f"feature server {self._http.base_url} unreachable: {exc}; "
                                   "check the URL and that `sparkfs serve` runs") from exc
        if resp.status_code == 200:
            return resp.json()
        raise _error(resp)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SparkfsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _body(entities: Mapping[str, Sequence[Any]], features: Sequence[str] | None,
          feature_service: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"entities": {k: list(v) for k, v in entities.items()}}
    if features is not None:
        body["features"] = list(features)
    if feature_service is not None:
        body["feature_service"] = feature_service
    return body


def _error(resp: httpx.Response) -> SparkfsError:
    """The sparkfs error for a failed response: ``{"error": {type, message}}`` from sparkfs's
    endpoints, Feast's error detail (a JSON string: module, class, message) from
    ``/get-online-features``."""
    try:
        body = resp.json()
        detail = json.loads(body) if isinstance(body, str) else body["error"]
        message, kind = detail["message"], detail.get("type") or detail.get("class")
    except (ValueError, KeyError, TypeError):
        message, kind = resp.text[:500], None
    cls = _BY_STATUS.get(resp.status_code, SparkfsError)
    if kind == "FeatureNameCollisionError":
        cls = FeatureNameCollisionError
    return cls(f"HTTP {resp.status_code}: {message}")
