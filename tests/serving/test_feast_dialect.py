"""``/get-online-features`` speaks Feast 0.67's dialect (the ASGI app on a real redis-server):
colliding names refused, Feast's statuses and error bodies, the inputs Feast accepts where
lossless; sparkfs's own endpoint stays strict. Feast's real client: test_feast_client.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkfs.errors import ValidationError
from sparkfs.pipeline.serving_catalog import Catalog, FeatureColumn
from sparkfs.pipeline.workspace import Workspace
from sparkfs.serving.feast_dialect import entity_columns
from sparkfs.serving.lookup import LookupPlan
from tests.serving.conftest import NOW, Project, app_client, publish, seed, write_project

pytestmark = pytest.mark.anyio

#: A second entity whose view has a feature named like one of the user views' (``clicks``).
MERCHANTS = """
entities:
  - {name: merchant, join_keys: [{name: merchant_id, type: int64}]}
feature_views:
  - name: merchant_clicks
    entities: [merchant]
    source: {type: delta, path: x/merchant_clicks}
    timestamp_column: ts
    features:
      - {name: clicks, type: int64}
    owner: team@example.com
feature_services:
  - {name: both_clicks, features: ["clicks:clicks", "merchant_clicks:clicks"]}
"""


def open_with_merchants(root: Path, redis_url: str, serving: str = "") -> Project:
    """The serving suite's project plus MERCHANTS, applied."""
    config = write_project(root, redis_url, serving)
    (root / "conf" / "features" / "merchants.yaml").write_text(MERCHANTS)
    workspace = Workspace.open(config, user="tester")
    workspace.definitions.apply(workspace.repository, user="tester")
    return Project(root, config, workspace)


@pytest.fixture()
async def client(tmp_path: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    project = open_with_merchants(tmp_path, redis_url)
    seed(project)
    publish(project.config, project.view("merchant_clicks"), {(501,): (NOW, [9])})
    async with app_client(project.config, project.workspace) as c:
        yield c


def feast_error(resp: httpx.Response) -> tuple[str, str]:
    detail = json.loads(resp.json())
    assert set(detail) == {"module", "class", "message"} and detail["module"] == "feast.errors"
    return detail["class"], detail["message"]


async def feast(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/get-online-features", json=body)


async def test_colliding_names_are_refused_unless_full_names(client: httpx.AsyncClient) -> None:
    entities = {"user_id": [1], "merchant_id": [501]}
    for request in ({"feature_service": "both_clicks"},
                    {"features": ["clicks:clicks", "merchant_clicks:clicks"]}):
        resp = await feast(client, entities=entities, **request)
        assert resp.status_code == 422, resp.text
        cls, message = feast_error(resp)
        assert cls == "FeatureNameCollisionError"
        assert "clicks:clicks" in message and "merchant_clicks:clicks" in message
        assert "full_feature_names: true" in message
        resp = await feast(client, entities=entities, full_feature_names=True, **request)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["metadata"]["feature_names"] == [
            "user_id", "merchant_id", "clicks__clicks", "merchant_clicks__clicks"]
        assert [r["values"] for r in body["results"]] == [[1], [501], [7], [9]]
    # sparkfs's own endpoint names columns view:feature: nothing collides, both values kept
    resp = await client.post("/v1/features:lookup", json={"feature_service": "both_clicks",
                                                          "entities": entities})
    assert resp.status_code == 200, resp.text
    features = resp.json()["rows"][0]["features"]
    assert (features["clicks:clicks"]["value"], features["merchant_clicks:clicks"]["value"]) == (7, 9)


async def test_collision_is_checked_after_the_scopes(tmp_path: Path, redis_url: str) -> None:
    """A key without the merchant view in scope learns nothing of its feature names."""
    from sparkfs.serving.auth import hash_key

    auth = f"""  auth_enabled: true
  api_keys:
    - {{name: u, sha256: {hash_key("k-u")}, scopes: [clicks]}}
"""
    project = open_with_merchants(tmp_path, redis_url, auth)
    async with app_client(project.config, project.workspace) as c:
        resp = await c.post("/get-online-features", headers={"X-API-Key": "k-u"}, json={
            "features": ["clicks:clicks", "merchant_clicks:clicks"],
            "entities": {"user_id": [1], "merchant_id": [501]}})
        assert resp.status_code == 403 and feast_error(resp)[0] == "FeastPermissionError"


async def test_statuses_as_feast_sends_them(client: httpx.AsyncClient) -> None:
    resp = await feast(client, features=["users:age", "users:score"], entities={"user_id": [1, 2, 3, 4]})
    assert resp.status_code == 200, resp.text
    _, age, score = resp.json()["results"]
    assert age["statuses"] == ["PRESENT", "PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert age["values"] == [31, None, None, None]  # user 2's age is a stored null: PRESENT
    assert score["values"][:2] == [0.5, None]  # NaN: Feast stores it as a null
    assert score["statuses"][:2] == ["PRESENT", "PRESENT"]


async def test_numeric_strings_and_integral_numbers_for_integer_keys(
        client: httpx.AsyncClient) -> None:
    typed = await feast(client, features=["users:age"], entities={"user_id": [1, 2]})
    for sent in (["1", "2"], [1.0, "2"], ["1", 2.0]):
        resp = await feast(client, features=["users:age"], entities={"user_id": sent})
        assert resp.status_code == 200, resp.text
        assert resp.json() == typed.json()  # the entity column echoes the integer, as Feast does
    cards = await feast(client, features=["cards:label"],
                        entities={"bin": [4111], "last4": ["1234"]})
    assert cards.status_code == 200, cards.text
    assert [r["values"] for r in cards.json()["results"]] == [["4111"], ["1234"], ["gold"]]
    own = await client.post("/v1/features:lookup", json={  # sparkfs's own endpoint: strict
        "features": ["users:age"], "entities": {"user_id": ["1"]}})
    assert own.status_code == 422 and "entities.user_id[0]" in own.json()["error"]["message"]


@pytest.mark.parametrize(("entities", "where"), [
    ({"user_id": ["01"]}, "entities.user_id[0]"),
    ({"user_id": [" 1"]}, "entities.user_id[0]"),
    ({"user_id": ["+1"]}, "entities.user_id[0]"),
    ({"user_id": ["1_000"]}, "entities.user_id[0]"),
    ({"user_id": ["1.0"]}, "entities.user_id[0]"),
    ({"user_id": [1, 1.5]}, "entities.user_id[1]"),
    ({"user_id": [True]}, "entities.user_id[0]"),
    ({"user_id": [2.0**60]}, "entities.user_id[0]"),
    ({"user_id": ["99999999999999999999"]}, "entities.user_id[0]"),
    ({"user_id": ["abc"]}, "entities.user_id[0]"),
])
async def test_lossy_conversions_are_422(client: httpx.AsyncClient, entities: dict[str, Any],
                                         where: str) -> None:
    resp = await feast(client, features=["users:age"], entities=entities)
    assert resp.status_code == 422, resp.text
    cls, message = feast_error(resp)
    assert cls == "FeastError" and where in message


@pytest.mark.parametrize("bad", [1.5, True, False])
async def test_lossy_conversions_for_string_keys_are_422(client: httpx.AsyncClient,
                                                         bad: object) -> None:
    resp = await feast(client, features=["cards:label"], entities={"bin": [bad], "last4": ["1"]})
    assert resp.status_code == 422 and "entities.bin[0]" in feast_error(resp)[1]


async def test_features_and_feature_service_together(client: httpx.AsyncClient) -> None:
    alone = await feast(client, feature_service="fraud", entities={"user_id": [1]})
    assert alone.status_code == 200, alone.text
    # Feast serves the service when both are given; sparkfs too when nothing is dropped
    for features in ([], ["clicks:clicks", "users:score", "users:age"], ["users:age", "users:score", "clicks:*"]):
        resp = await feast(client, feature_service="fraud", features=features,
                           entities={"user_id": [1]})
        assert resp.status_code == 200 and resp.json() == alone.json(), (features, resp.text)
    resp = await feast(client, feature_service="fraud", features=["users:country"],
                       entities={"user_id": [1]})
    assert resp.status_code == 422
    assert "silently ignore features" in feast_error(resp)[1]
    resp = await feast(client, feature_service="", features=["users:age"], entities={"user_id": [1]})
    assert resp.status_code == 200 and resp.json()["metadata"]["feature_names"] == ["user_id", "age"]
    resp = await feast(client, features=[], entities={"user_id": [1]})
    assert resp.status_code == 422 and feast_error(resp)[0] == "FeastError"


async def test_feature_view_version_metadata(client: httpx.AsyncClient) -> None:
    views = {v["name"]: v["version"] for v in (await client.get("/v1/feature-views")).json()}
    resp = await feast(client, feature_service="fraud", entities={"user_id": [1]},
                       include_feature_view_version_metadata=True)
    assert resp.status_code == 200, resp.text
    assert resp.json()["metadata"]["feature_view_metadata"] == [
        {"name": "users", "definition_version": views["users"]},
        {"name": "clicks", "definition_version": views["clicks"]}]
    plain = await feast(client, feature_service="fraud", entities={"user_id": [1]})
    assert "feature_view_metadata" not in plain.json()["metadata"]


async def test_key_columns_of_other_views_are_echoed_in_request_order(
        client: httpx.AsyncClient) -> None:
    """As Feast's server: a column that is a key of a served view is echoed (converted), in
    the request's order, even if no requested view reads it; a column that is no key is not."""
    resp = await feast(client, features=["users:age"],
                       entities={"merchant_id": ["501"], "foo": [1], "user_id": [1]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["metadata"]["feature_names"] == ["merchant_id", "user_id", "age"]
    assert [r["values"] for r in body["results"]] == [[501], [1], [31]]
    ragged = await feast(client, features=["users:age"],
                         entities={"merchant_id": [501, 502], "user_id": [1]})
    assert ragged.status_code == 422 and "merchant_id=2" in feast_error(ragged)[1]
    own = await client.post("/v1/features:lookup", json={
        "features": ["users:age"], "entities": {"user_id": [1], "merchant_id": [501]}})
    assert own.status_code == 422  # sparkfs's own endpoint: strict
    missing = await feast(client, features=["users:age"], entities={"merchant_id": [501]})
    assert missing.status_code == 422 and "entities.user_id: missing" in feast_error(missing)[1]


async def test_other_errors_keep_sparkfs_statuses(client: httpx.AsyncClient) -> None:
    resp = await feast(client, features=["users:age"], entities={"user_id": list(range(101))})
    assert resp.status_code == 413
    assert feast_error(resp)[0] == "FeastError" and "max_entities" in feast_error(resp)[1]


INT_PLAN = LookupPlan((FeatureColumn("users", "age"),), (), {"user_id": "int64"})


@given(st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str), st.text(max_size=8)))
def test_a_string_is_an_integer_key_exactly_when_it_prints_that_integer(text: str) -> None:
    """Oracle: Python's own round trip ``str(int(s)) == s`` (and ASCII, as JSON keys print)."""
    try:
        expected: int | None = int(text) if text.isascii() and str(int(text)) == text else None
    except ValueError:
        expected = None
    try:
        got = entity_columns(Catalog(), INT_PLAN, {"user_id": [text]})["user_id"][0]
    except ValidationError:
        got = None
    assert got == expected


def test_typed_columns_are_passed_through_untouched() -> None:
    values = [1, None, 3]
    assert entity_columns(Catalog(), INT_PLAN, {"user_id": values, "other": ["x"]}) == {"user_id": values}
    assert entity_columns(Catalog(), INT_PLAN, {"user_id": values})["user_id"] is values


def test_integral_floats_beyond_double_precision_are_refused() -> None:
    assert entity_columns(Catalog(), INT_PLAN, {"user_id": [2.0**53]})["user_id"] == [2**53]
    with pytest.raises(ValidationError, match=r"entities\.user_id\[0\]"):
        entity_columns(Catalog(), INT_PLAN, {"user_id": [2.0**53 + 2]})


@pytest.mark.parametrize(("status", "feast_class", "raised"), [
    (422, "FeatureNameCollisionError", "FeatureNameCollisionError"),
    (404, "FeatureViewNotFoundException", "NotFoundError"),
    (403, "FeastPermissionError", "ForbiddenError"),
])
def test_sparkfs_client_reads_feast_error_bodies(status: int, feast_class: str,
                                                 raised: str) -> None:
    from sparkfs.client import SparkfsClient

    detail = json.dumps({"module": "feast.errors", "class": feast_class, "message": "why"})
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=detail))
    with SparkfsClient("http://x", transport=transport) as client, \
            pytest.raises(Exception, match="why") as caught:
        client.get_online_features({"user_id": [1]}, features=["users:age"])
    assert type(caught.value).__name__ == raised


def test_non_finite_floats_as_feast_sends_them() -> None:
    """Feast stores NaN as a null (PRESENT, null); infinities go out as protobuf JSON strings."""
    from datetime import UTC, datetime

    from sparkfs.online.reader import Status, ViewValue
    from sparkfs.serving.lookup import LookupResult
    from sparkfs.serving.shapes import feast_response

    values = [float("nan"), float("inf"), float("-inf"), 1.5]
    plan = LookupPlan((FeatureColumn("users", "score"),), (), {"user_id": "int64"})
    answers = [{"users": ViewValue(Status.PRESENT, datetime(2026, 1, 1, tzinfo=UTC), {"score": v})}
               for v in values]
    body = feast_response(LookupResult(plan, {"user_id": [1, 2, 3, 4]}, answers), False)
    assert body["results"][1]["values"] == [None, "Infinity", "-Infinity", 1.5]
    assert body["results"][1]["statuses"] == ["PRESENT"] * 4
