"""``sparkfs serve`` in a subprocess on a free port, real HTTP through ``SparkfsClient``, and
``FeatureStore.get_online_features`` giving the same answer without HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sparkfs.client import SparkfsClient
from sparkfs.errors import AuthError, LimitExceededError, NotFoundError, ValidationError
from sparkfs.serving.auth import ForbiddenError, hash_key
from sparkfs.store import FeatureStore
from tests.serving.conftest import Project, open_project, seed, serve_subprocess

AUTH = f"""  auth_enabled: true
  api_keys:
    - {{name: users_only, sha256: {hash_key("k-users")}, scopes: [users, cards]}}
"""


@pytest.fixture()
def served(tmp_path: Path, redis_url: str) -> Iterator[tuple[Project, str]]:
    project = open_project(tmp_path, redis_url, AUTH)
    seed(project)
    with serve_subprocess(project) as url:
        yield project, url


@pytest.mark.slow
def test_sparkfs_serve_over_real_http(served: tuple[Project, str]) -> None:
    project, url = served
    with SparkfsClient(url, api_key="k-users") as client:
        assert client.ready()
        got = client.lookup({"user_id": [1, 3]}, features=["users:age", "users:country"])
        assert [r["features"]["users:age"]["status"] for r in got["rows"]] == [
            "PRESENT", "OUTSIDE_MAX_AGE"]
        feast = client.get_online_features({"bin": ["4111"], "last4": ["1234"]},
                                           features=["cards:label"], full_feature_names=True)
        assert feast["metadata"]["feature_names"] == ["bin", "last4", "cards__label"]
        assert feast["results"][2]["values"] == ["gold"]
        assert [v["name"] for v in client.feature_views()] == ["cards", "users"]
        with pytest.raises(ForbiddenError, match="clicks"):
            client.lookup({"user_id": [1]}, feature_service="fraud")
        with pytest.raises(NotFoundError):
            client.lookup({"user_id": [1]}, features=["nope:x"])
        with pytest.raises(ValidationError, match=r"entities\.user_id"):
            client.lookup({"user_id": ["1"]}, features=["users:age"])
        with pytest.raises(LimitExceededError):
            client.lookup({"user_id": list(range(101))}, features=["users:age"])
        # the in-process lookup answers exactly what the server does (event times aside)
        local = FeatureStore(None, project.workspace).get_online_features(  # type: ignore[arg-type]
            {"user_id": [1, 3]}, features=["users:age", "users:country"])
        assert local == got
    with SparkfsClient(url, api_key="wrong") as client, pytest.raises(AuthError):
        client.lookup({"user_id": [1]}, features=["users:age"])
    metrics = httpx.get(url + "/metrics").text
    assert 'endpoint="/v1/features:lookup",method="POST",status="403"' in metrics
