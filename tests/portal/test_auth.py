"""With auth on, the catalog pages refuse a request without a valid key (real HTTP against
``sparkfs serve``), and accept the API's key headers or the sign-in cookie."""

from __future__ import annotations

from pathlib import Path

import httpx

from sparkfs.serving.auth import hash_key
from tests.catalog_project import open_catalog_project
from tests.portal.server import serve

FEATURES = """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
feature_views:
  - name: scores
    entities: [user]
    source: {type: delta, path: x/scores}
    timestamp_column: ts
    features: [{name: score, type: float64}]
    owner: team@example.com
"""

PAGES = ("/catalog", "/catalog/feature-views/scores", "/catalog/training-sets")


def test_pages_need_a_key_when_auth_is_on(tmp_path: Path) -> None:
    extra = f"""serving:
  auth_enabled: true
  api_keys: [{{name: reader, sha256: {hash_key("s3cret")}, scopes: ["*"]}}]
"""
    ws = open_catalog_project(tmp_path, FEATURES, extra=extra)
    with serve(ws.config.config_path, tmp_path) as url:
        for page in PAGES:
            refused = httpx.get(url + page)
            assert refused.status_code == 401, page
            assert "missing API key" in refused.text and 'name="key"' in refused.text
            assert "scores" not in refused.text.replace("/catalog/feature-views/scores", "")
            wrong = httpx.get(url + page, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401 and "invalid API key" in wrong.text
            for headers in ({"Authorization": "Bearer s3cret"}, {"X-API-Key": "s3cret"}):
                ok = httpx.get(url + page, headers=headers)
                assert ok.status_code == 200, (page, ok.text[:500])
        assert "scores" in httpx.get(url + "/catalog", headers={"X-API-Key": "s3cret"}).text
        with httpx.Client(base_url=url) as browser:
            bad = browser.post("/catalog/login", content="key=nope",
                               headers={"content-type": "application/x-www-form-urlencoded"})
            assert bad.status_code == 401 and not browser.cookies
            signed = browser.post("/catalog/login", content="key=s3cret",
                                  headers={"content-type": "application/x-www-form-urlencoded"})
            assert signed.status_code == 303 and signed.headers["location"] == "/catalog"
            assert "httponly" in signed.headers["set-cookie"].lower()
            page = browser.get("/catalog/feature-views/scores")
            assert page.status_code == 200 and "team@example.com" in page.text


def test_pages_are_open_when_auth_is_off(tmp_path: Path) -> None:
    ws = open_catalog_project(tmp_path, FEATURES)
    with serve(ws.config.config_path, tmp_path) as url:
        page = httpx.get(url + "/catalog/feature-views/scores")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        missing = httpx.get(url + "/catalog/feature-views/nope")
        assert missing.status_code == 404 and "no applied feature view &#39;nope&#39;" in missing.text
