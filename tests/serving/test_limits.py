"""Finding 5 of issue 21: a 50 MB body was parsed, and a 1 MB bad key was echoed back in a
1 MB 422. Bodies past ``serving.max_request_bytes`` now get a 413 in sparkfs's error shape before
they are read, and error messages quote at most a short prefix of the bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import Project, app_client, open_project, seed, serve_subprocess

MB = 1_000_000
LOOKUP = "/v1/features:lookup"


def _body(key: str = "user_id", value: object = 1, feature: str = "users:age") -> dict[str, object]:
    return {"features": [feature], "entities": {key: [value]}}


def _assert_short_error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text[:300]
    assert len(response.content) < 2500, len(response.content)
    error = response.json()["error"]
    assert error["type"] == error_type
    return str(error["message"])


@pytest.fixture()
def served(tmp_path: Path, redis_url: str) -> Iterator[str]:
    project = open_project(tmp_path, redis_url)  # the default limit: 1 MiB
    seed(project)
    with serve_subprocess(project) as url:
        yield url


@pytest.mark.slow
def test_body_limit_and_short_echoes_over_real_http(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        huge = b'{"features": ["users:age"], "entities": {"user_id": [' + b"1," * (25 * MB) + b'1]}}'
        message = _assert_short_error(client.post(LOOKUP, content=huge,
                                                  headers={"content-type": "application/json"}),
                                      413, "LimitExceededError")
        assert "serving.max_request_bytes (1048576 bytes)" in message

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
            yield b'{"features": ["users:age"], "entities": {"user_id": ['
            for _ in range(3000):
                yield b"1," * 1000
            yield b"1]}}"

        chunked = client.post(LOOKUP, content=chunks(), headers={"content-type": "application/json"})
        _assert_short_error(chunked, 413, "LimitExceededError")

        bad_value = _assert_short_error(client.post(LOOKUP, json=_body(value="7" * MB)), 422, "ValidationError")
        assert bad_value.startswith("entities.user_id[0]: '7777") and f"({MB + 2} characters)" in bad_value
        bad_key = _assert_short_error(client.post(LOOKUP, json=_body(key="k" * MB)), 422, "ValidationError")
        assert bad_key.startswith("entities.kkkk") and "(1000000 characters)" in bad_key
        bad_feature = _assert_short_error(client.post(LOOKUP, json=_body(feature="users:" + "f" * 240)),
                                          404, "NotFoundError")
        assert "has no feature 'ffff" in bad_feature and "f" * 100 not in bad_feature
        feast = client.post("/get-online-features", json=_body(feature="v" * 250 + ":x"))
        # (the Feast route answers in its own error shape; short all the same)
        assert feast.status_code == 404 and len(feast.content) < 2500 and "v" * 100 not in feast.text
        ok = client.post(LOOKUP, json=_body())
        assert ok.status_code == 200 and ok.json()["rows"][0]["features"]["users:age"]["value"] == 31
    metrics = httpx.get(served + "/metrics").text
    assert 'status="413"} 2.0' in metrics  # counted (as unmatched: refused before routing)


@pytest.fixture()
def small(tmp_path: Path, redis_url: str) -> Project:
    project = open_project(tmp_path, redis_url, "  max_request_bytes: 200\n")
    seed(project)
    return project


@pytest.mark.anyio
async def test_a_configured_limit_applies_to_every_route(small: Project) -> None:
    async with app_client(small.config, small.workspace) as client:
        fits = await client.post(LOOKUP, json=_body())
        assert fits.status_code == 200
        padded = {**_body(), "features": ["users:age"] * 30}
        for path in (LOOKUP, "/get-online-features"):
            response = await client.post(path, json=padded)
            assert response.status_code == 413 and "(200 bytes)" in response.json()["error"]["message"]
