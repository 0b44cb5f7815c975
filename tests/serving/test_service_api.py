"""Catalog, health, metrics, auth, governance filtering, registry refresh, round trips, cache."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sparkfs.serving.auth import hash_key
from tests.serving.conftest import Project, app_client, open_project, seed

pytestmark = pytest.mark.anyio

AUTH = f"""  auth_enabled: true
  api_keys:
    - {{name: all, sha256: {hash_key("k-all")}, scopes: ["*"]}}
    - {{name: users_only, sha256: {hash_key("k-users")}, scopes: [users]}}
    - {{name: fraud_svc, sha256: {hash_key("k-fraud")}, scopes: [fraud]}}
"""
LOOKUP = {"features": ["users:age"], "entities": {"user_id": [1]}}


async def test_catalog_endpoints(client: httpx.AsyncClient, project: Project) -> None:
    views = (await client.get("/v1/feature-views")).json()
    assert [v["name"] for v in views] == ["cards", "clicks", "users"]  # offline_only left out
    users = next(v for v in views if v["name"] == "users")
    assert users["version"] == project.workspace.definitions.heads()[("feature_view", "users")]
    assert users["ttl_s"] == 3600
    assert users["entity_keys"] == [{"name": "user_id", "type": "int64"}]
    assert [f["name"] for f in users["features"]] == ["age", "country", "score", "premium"]
    assert users["last_sync"] is None
    services = (await client.get("/v1/feature-services")).json()
    assert {s["name"]: s["features"] for s in services} == {
        "cards_svc": ["cards:label"], "fraud": ["users:age", "users:score", "clicks:clicks"]}


async def test_last_sync_comes_from_the_registry_checkpoints(project: Project) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from sparkfs.registry.schema import sync_checkpoints

    version = project.workspace.definitions.heads()[("feature_view", "users")]
    with project.workspace.engine.begin() as conn:
        conn.execute(insert(sync_checkpoints).values(
            feature_view="users", namespace="production", definition_version=version,
            delta_version=4, generation=2, updated_at=datetime.now(UTC)))
    async with app_client(project.config, project.workspace) as client:
        views = (await client.get("/v1/feature-views")).json()
    sync = next(v for v in views if v["name"] == "users")["last_sync"]
    assert sync["delta_version"] == 4 and sync["generation"] == 2 and sync["current"] is True
    assert 0 <= sync["age_s"] < 60


async def test_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["feature_views"] == 3
    for _ in range(3):
        assert (await client.post("/v1/features:lookup", json=LOOKUP)).status_code == 200
    assert (await client.post("/v1/features:lookup", json={"features": ["x:y"],
                                                           "entities": {}})).status_code == 404
    text = (await client.get("/metrics")).text
    assert ('sparkfs_http_requests_total{endpoint="/v1/features:lookup",method="POST",'
            'status="200"} 3.0') in text
    assert 'status="404"} 1.0' in text
    assert 'sparkfs_http_request_duration_seconds_count{endpoint="/v1/features:lookup"} 4.0' in text
    assert "sparkfs_redis_errors_total 0.0" in text
    assert "sparkfs_served_feature_views 3.0" in text
    assert (await client.get("/openapi.json")).json()["paths"]["/get-online-features"]


async def test_api_keys_401_403_and_ok(tmp_path: Path, redis_url: str) -> None:
    project = open_project(tmp_path, redis_url, AUTH)
    seed(project)
    fraud = {"feature_service": "fraud", "entities": {"user_id": [1]}}
    async with app_client(project.config, project.workspace) as client:
        async def post(body: dict[str, Any], headers: dict[str, str]) -> int:
            return (await client.post("/v1/features:lookup", json=body, headers=headers)).status_code

        assert await post(LOOKUP, {}) == 401
        assert await post(LOOKUP, {"Authorization": "Bearer wrong"}) == 401
        assert await post(LOOKUP, {"Authorization": "Basic k-all"}) == 401
        resp = await client.post("/v1/features:lookup", json=LOOKUP)
        assert resp.json()["error"]["type"] == "AuthError"
        assert await post(LOOKUP, {"Authorization": "Bearer k-all"}) == 200
        assert await post(LOOKUP, {"X-API-Key": "k-users"}) == 200
        assert await post(fraud, {"X-API-Key": "k-users"}) == 403  # fraud also reads clicks
        assert await post(fraud, {"X-API-Key": "k-fraud"}) == 200  # the service is in scope
        assert await post(LOOKUP, {"X-API-Key": "k-fraud"}) == 403  # but not the bare view
        resp = await client.post("/get-online-features", json=fraud, headers={"X-API-Key": "k-users"})
        detail = json.loads(resp.json())  # Feast's error shape there
        assert resp.status_code == 403 and "clicks" in detail["message"]
        assert detail["class"] == "FeastPermissionError"
        resp = await client.post("/get-online-features", json=fraud)
        assert resp.status_code == 401 and json.loads(resp.json())["class"] == "FeastPermissionError"
        assert (await client.get("/v1/feature-views")).status_code == 401
        # the key is checked before the body, as FastAPI orders a dependency before the body
        junk = await client.post("/v1/features:lookup", content=b"{not json",
                                 headers={"Content-Type": "application/json"})
        assert junk.status_code == 401
        views = await client.get("/v1/feature-views", headers={"X-API-Key": "k-users"})
        assert [v["name"] for v in views.json()] == ["users"]
        assert (await client.get("/healthz")).status_code == 200


async def test_unapproved_versions_are_not_served(project: Project, monkeypatch: Any) -> None:
    import sparkfs.pipeline.serving_catalog as catalog_mod

    monkeypatch.setattr(catalog_mod, "is_approved",
                        lambda ws, kind, name, version: name != "clicks")
    async with app_client(project.config, project.workspace) as client:
        resp = await client.post("/v1/features:lookup", json={
            "features": ["clicks:clicks"], "entities": {"user_id": [1]}})
        assert resp.status_code == 404
        services = (await client.get("/v1/feature-services")).json()
        assert [s["name"] for s in services] == ["cards_svc"]  # fraud needs clicks
        monkeypatch.setattr(catalog_mod, "is_approved", lambda *a: True)  # approval granted
        for _ in range(50):
            await asyncio.sleep(0.1)
            resp = await client.post("/v1/features:lookup", json={
                "features": ["clicks:clicks"], "entities": {"user_id": [1]}})
            if resp.status_code == 200:
                break
        assert resp.status_code == 200


async def test_registry_change_is_picked_up_without_restart(project: Project) -> None:
    async with app_client(project.config, project.workspace) as client:
        assert (await client.post("/v1/features:lookup", json={
            "features": ["users:age"], "entities": {"user_id": [1]}})).status_code == 200
        features = project.root / "conf" / "features" / "all.yaml"
        features.write_text(features.read_text().replace(
            "{name: premium, type: bool}", "{name: premium, type: bool}\n      - {name: tier, type: string}"))
        from sparkfs.definitions.loader import load_repository

        project.workspace.definitions.apply(load_repository(str(features.parent)), user="t")
        body = {"features": ["users:tier"], "entities": {"user_id": [1]}}
        for _ in range(50):
            resp = await client.post("/v1/features:lookup", json=body)
            if resp.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert resp.status_code == 200
        # the new version has no generation yet: nothing found rather than old-version bytes
        assert resp.json()["rows"][0]["features"]["users:tier"]["status"] == "NOT_FOUND"


async def test_one_redis_round_trip_per_request(client: httpx.AsyncClient, project: Project,
                                                redis_server: Any) -> None:
    from tests.serving.conftest import publish

    publish(project.config, project.view("clicks"),
            {(i,): (__import__("datetime").datetime.now(__import__("datetime").UTC), [i])
             for i in range(100)})
    runtime = client._transport.app.state.sparkfs  # type: ignore[attr-defined]
    reader = runtime.lookup.reader
    body = {"feature_service": "fraud", "entities": {"user_id": list(range(100))}}
    assert (await client.post("/v1/features:lookup", json=body)).status_code == 200  # learn ptrs
    roundtrips: list[int] = []
    real = reader.connection.execute

    async def counting(payload: bytes, n_replies: int) -> Any:
        roundtrips.append(n_replies)
        return await real(payload, n_replies)

    reader.connection.execute = counting
    redis_server.client().config_resetstat()
    for _ in range(5):
        resp = await client.post("/v1/features:lookup", json=body)
        assert resp.status_code == 200
    assert roundtrips == [4] * 5  # one round trip per request: 2 MGET + 2 HGET
    stats = redis_server.client().info("commandstats")
    assert stats["cmdstat_mget"]["calls"] == 10
    assert stats["cmdstat_hget"]["calls"] == 10
    assert "cmdstat_get" not in stats


async def test_cache_serves_hot_entities_without_redis(tmp_path: Path, redis_url: str,
                                                       redis_server: Any) -> None:
    project = open_project(tmp_path, redis_url,
                           "  cache: {enabled: true, max_entries: 100, ttl_s: 30}\n")
    seed(project)
    async with app_client(project.config, project.workspace) as client:
        first = await client.post("/v1/features:lookup", json=LOOKUP)
        redis_server.client().config_resetstat()
        second = await client.post("/v1/features:lookup", json=LOOKUP)
        assert first.json() == second.json()
        assert "cmdstat_mget" not in redis_server.client().info("commandstats")
        text = (await client.get("/metrics")).text
        assert 'sparkfs_cache_lookups_total{result="hit"} 1.0' in text
        assert 'sparkfs_cache_lookups_total{result="miss"} 1.0' in text
