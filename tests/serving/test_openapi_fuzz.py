"""Property-based requests generated from the OpenAPI document (schemathesis): no 5xx while
Redis is up, whatever the body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.serving.conftest import open_project, seed, serve_subprocess


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, redis_server: object) -> Iterator[str]:
    url = redis_server.url  # type: ignore[attr-defined]
    project = open_project(Path(tmp_path_factory.mktemp("fuzz")), url)
    seed(project)
    with serve_subprocess(project) as served:
        yield served


@pytest.mark.slow
def test_no_server_errors(base_url: str) -> None:
    """Every operation of the spec, 50 generated cases each (schemathesis strategies driven by
    hypothesis directly: schemathesis' pytest plugin does not load under this pytest)."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/features:lookup", "/get-online-features",
                                               "/v1/feature-views", "/readyz", "/metrics"}
    seen: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.path, case.body, response.text)
            if case.path in ("/v1/features:lookup", "/get-online-features"):
                assert response.status_code in (200, 404, 413, 422), response.text
                if response.status_code != 200 and case.path == "/v1/features:lookup":
                    assert set(response.json()) == {"error"}
                elif response.status_code != 200:  # Feast's error detail, a JSON string
                    detail = json.loads(response.json())
                    assert set(detail) == {"module", "class", "message"}, detail
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert seen.get(422, 0) > 0 and seen.get(200, 0) > 0, seen
