"""The lookup endpoints against a real redis-server: both request shapes, every status."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.serving.conftest import NOW, Project

pytestmark = pytest.mark.anyio


def feast_error(resp: httpx.Response) -> tuple[str, str]:
    """(class, message) of Feast's error body: a JSON string holding module, class, message."""
    detail = json.loads(resp.json())
    assert set(detail) == {"module", "class", "message"} and detail["module"] == "feast.errors"
    return detail["class"], detail["message"]


def iso(moment: object) -> str:
    from sparkfs.serving.shapes import iso_utc

    return iso_utc(moment)  # type: ignore[arg-type]


async def test_lookup_statuses_values_and_event_times(client: httpx.AsyncClient) -> None:
    from datetime import timedelta

    resp = await client.post("/v1/features:lookup", json={
        "features": ["users:age", "users:score", "clicks:clicks"],
        "entities": {"user_id": [1, 2, 3, 4, None]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["features"] == ["users:age", "users:score", "clicks:clicks"]
    rows = body["rows"]
    assert [r["entity"] for r in rows] == [{"user_id": v} for v in (1, 2, 3, 4, None)]
    assert rows[0]["features"]["users:age"] == {
        "value": 31, "status": "PRESENT", "event_time": iso(NOW - timedelta(minutes=5))}
    assert rows[0]["features"]["clicks:clicks"]["value"] == 7  # no ttl: old values served
    assert rows[1]["features"]["users:age"]["value"] is None  # stored null
    assert rows[1]["features"]["users:score"] == {  # NaN has no JSON form
        "value": None, "status": "PRESENT", "event_time": iso(NOW - timedelta(minutes=10))}
    assert rows[2]["features"]["users:age"] == {
        "value": None, "status": "OUTSIDE_MAX_AGE", "event_time": iso(NOW - timedelta(hours=2))}
    for row in rows[3:]:
        assert {f["status"] for f in row["features"].values()} == {"NOT_FOUND"}
        assert {f["event_time"] for f in row["features"].values()} == {None}


async def test_feature_service_wildcards_and_composite_keys(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/features:lookup", json={
        "feature_service": "fraud", "entities": {"user_id": [2]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["features"] == ["users:age", "users:score", "clicks:clicks"]
    resp = await client.post("/v1/features:lookup", json={
        "features": ["cards:*"], "entities": {"bin": ["4111", "4111"], "last4": ["1234", "9"]}})
    assert resp.status_code == 200, resp.text
    got = [r["features"]["cards:label"]["status"] for r in resp.json()["rows"]]
    assert got == ["PRESENT", "NOT_FOUND"]
    assert resp.json()["rows"][0]["features"]["cards:label"]["value"] == "gold"


async def test_feast_shape(client: httpx.AsyncClient) -> None:
    from datetime import timedelta

    resp = await client.post("/get-online-features", json={
        "features": ["users:age", "users:country"], "entities": {"user_id": [1, 3, 9]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["metadata"] == {"feature_names": ["user_id", "age", "country"]}
    key, age, country = body["results"]
    assert key == {"values": [1, 3, 9], "statuses": ["PRESENT"] * 3,
                   "event_timestamps": ["1970-01-01T00:00:00Z"] * 3}
    assert age["values"] == [31, None, None]
    assert age["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert age["event_timestamps"][2] == "1970-01-01T00:00:00Z"
    assert all(t.endswith("Z") for t in age["event_timestamps"])
    assert country["values"] == ["FR", None, None]
    resp = await client.post("/get-online-features", json={
        "feature_service": "fraud", "entities": {"user_id": [2]}, "full_feature_names": True,
        "some_future_feast_field": 1})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["metadata"]["feature_names"] == ["user_id", "users__age", "users__score",
                                                 "clicks__clicks"]
    # as Feast 0.67's server answers: a stored null is PRESENT, and so is NaN (Feast stores a null)
    for column in body["results"][1:3]:
        assert column == {"values": [None], "statuses": ["PRESENT"],
                          "event_timestamps": [iso(NOW - timedelta(minutes=10))]}


@pytest.mark.parametrize(("payload", "field"), [
    ({"features": ["users:age"]}, "entities"),
    ({"features": ["users:age"], "entities": {"user_id": ["1"]}}, "entities.user_id[0]"),
    ({"features": ["users:age"], "entities": {"user_id": [True]}}, "entities.user_id"),
    ({"features": ["users:age"], "entities": {"uid": [1]}}, "entities.user_id"),
    ({"features": ["users:age"], "entities": {"user_id": [1], "x": [1]}}, "entities.x"),
    ({"features": ["cards:label"], "entities": {"bin": ["1"], "last4": []}}, "entities"),
    ({"features": ["usersage"], "entities": {"user_id": [1]}}, "features[0]"),
    ({"entities": {"user_id": [1]}}, "feature_service"),
    ({"features": ["users:age"], "feature_service": "fraud", "entities": {}}, "feature_service"),
    ({"features": ["users:age"], "entities": {"user_id": [1]}, "extra": 1}, "extra"),
])
async def test_bad_input_is_422_naming_the_field(client: httpx.AsyncClient,
                                                 payload: dict[str, object], field: str) -> None:
    resp = await client.post("/v1/features:lookup", json=payload)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["type"] == "ValidationError"
    assert field in error["message"]


@pytest.mark.parametrize(("content", "content_type", "message"), [
    (b'{"features": ["users:age"], "entities": {"user_id": [1]', "application/json", "JSON"),
    (b"", "application/json", "body"),
    (b"[1, 2]", "application/json", "body"),
    (b'{"features": ["users:age"], "entities": {"user_id": [1]}}', "text/plain", "Content-Type"),
    (b'{"features": ["users:age"], "entities": {"user_id": [1]}}', None, "Content-Type"),
])
async def test_malformed_bodies_are_422(client: httpx.AsyncClient, content: bytes,
                                        content_type: str | None, message: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/v1/features:lookup", content=content, headers=headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["type"] == "ValidationError"
    assert message in resp.json()["error"]["message"]
    resp = await client.post("/get-online-features", content=content, headers=headers)
    assert resp.status_code == 422, resp.text
    feast_class, feast_message = feast_error(resp)
    assert feast_class == "FeastError" and message in feast_message


async def test_body_in_chunks_and_json_subtypes(client: httpx.AsyncClient) -> None:
    """A streamed (chunked) body is read whole; ``application/*+json`` counts as JSON."""
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"features": ["users:age"], '
        yield b'"entities": {"user_id": [1]}}'

    streamed = await client.post("/v1/features:lookup", content=chunks(),
                                 headers={"Content-Type": "application/json"})
    whole = await client.post("/v1/features:lookup", json={
        "features": ["users:age"], "entities": {"user_id": [1]}})
    assert streamed.status_code == 200, streamed.text
    assert streamed.json() == whole.json()
    vendor = await client.post("/v1/features:lookup", content=whole.request.content,
                               headers={"Content-Type": "application/vnd.api+json; charset=utf-8"})
    assert vendor.status_code == 200 and vendor.json() == whole.json()


@pytest.mark.parametrize(("payload", "feast_class"), [
    ({"features": ["nope:age"], "entities": {"user_id": [1]}}, "FeatureViewNotFoundException"),
    ({"features": ["users:nope"], "entities": {"user_id": [1]}}, "FeastObjectNotFoundException"),
    ({"feature_service": "nope", "entities": {"user_id": [1]}}, "FeatureServiceNotFoundException"),
    ({"features": ["offline_only:secret"], "entities": {"user_id": [1]}},
     "FeatureViewNotFoundException"),
    ({"features": ["users@v2:age"], "entities": {"user_id": [1]}},  # Feast's version pin
     "FeatureViewNotFoundException"),
])
async def test_unknown_names_are_404(client: httpx.AsyncClient, payload: dict[str, object],
                                     feast_class: str) -> None:
    resp = await client.post("/v1/features:lookup", json=payload)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["type"] == "NotFoundError"
    resp = await client.post("/get-online-features", json=payload)
    assert resp.status_code == 404, resp.text
    assert feast_error(resp)[0] == feast_class


async def test_more_entities_than_the_limit_is_413(client: httpx.AsyncClient) -> None:
    ok = await client.post("/v1/features:lookup", json={
        "features": ["users:age"], "entities": {"user_id": list(range(100))}})
    assert ok.status_code == 200
    resp = await client.post("/v1/features:lookup", json={
        "features": ["users:age"], "entities": {"user_id": list(range(101))}})
    assert resp.status_code == 413
    assert "max_entities" in resp.json()["error"]["message"]


async def test_key_names_never_reach_redis_keys(client: httpx.AsyncClient,
                                                project: Project) -> None:
    """Names outside the catalog are refused before any Redis command is built."""
    for ref in ["users*:age", "sfs:1:users:*", "{users}:ctl", "users:age*"]:
        resp = await client.post("/v1/features:lookup", json={
            "features": [ref], "entities": {"user_id": [1]}})
        assert resp.status_code in (404, 422), (ref, resp.text)


@pytest.mark.parametrize(("value", "shown"), [(1001.0, "1001.0"), (True, "true"), ([1], "[1]")])
async def test_a_bad_key_value_is_one_problem_named_like_the_lookup_names_it(
        client: httpx.AsyncClient, value: object, shown: str) -> None:
    resp = await client.post("/v1/features:lookup", json={
        "features": ["users:age"], "entities": {"user_id": [1, value]}})
    assert resp.status_code == 422, resp.text
    message = resp.json()["error"]["message"]
    assert message.startswith(f"entities.user_id[1]: {shown} is not an integer or a string"), message
    assert ".int:" not in message and ".str:" not in message


async def test_unknown_paths_and_methods_use_the_error_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFoundError" and "/docs" in missing.json()["error"]["message"]
    wrong = await client.get("/v1/features:lookup")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "MethodNotAllowedError"
    assert "detail" not in wrong.json()
