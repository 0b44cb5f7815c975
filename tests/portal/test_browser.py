"""A real browser (Debian's chromium, headless, driven by Playwright) uses the catalog: loads it,
searches, opens a feature view and its lineage, signs in when auth is on, and opens the static
report with its pictures. A screenshot of each page is kept (see ``artifacts`` in conftest)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkfs.serving.auth import hash_key
from tests.catalog_project import open_catalog_project
from tests.portal.conftest import Demo
from tests.portal.server import serve

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed; run scripts/setup.sh")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def shot(page: object, artifacts: Path, name: str, *, full: bool = True) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
    assert path.stat().st_size > 10_000, path  # a picture of a page, not a blank
    return path


def test_search_open_a_view_and_its_lineage(browser: object, demo: Demo, demo_url: str,
                                            artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(demo_url + "/catalog")
    assert page.title() == "search — test"
    assert page.locator("#results tr.hit").count() > 10
    shot(page, artifacts, "01-catalog")

    page.fill("#q", "txn")
    page.select_option("#kind", "feature_view")
    page.click("#search-button")
    page.wait_for_url("**/catalog?*q=txn*")
    assert page.locator("#result-count").inner_text() == "2 result(s)"
    assert page.locator("#results tr.hit a").all_inner_texts() == ["merchant_txn_aggs", "user_txn_aggs"]
    shot(page, artifacts, "02-search-txn")

    page.click("text=user_txn_aggs")
    page.wait_for_url("**/catalog/feature-views/user_txn_aggs")
    assert page.locator("#view-name").inner_text().startswith("user_txn_aggs")
    assert page.locator("#windows").inner_text() == "1h, 1d, 7d, 30d at hour grain"
    chart = page.locator("#quality svg")
    assert chart.count() == 1 and chart.bounding_box()["height"] > 20
    shot(page, artifacts, "03-feature-view-user_txn_aggs")

    lineage = page.locator("#lineage svg")
    lineage.scroll_into_view_if_needed()
    box = lineage.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50
    assert page.locator("#lineage svg g.node").count() >= 5
    assert "user_txn_aggs" in (page.locator("#lineage svg").text_content() or "")
    lineage.screenshot(path=str(artifacts / "04-lineage-user_txn_aggs.png"))
    assert (artifacts / "04-lineage-user_txn_aggs.png").stat().st_size > 5_000

    page.click("#consumers >> text=fraud_model")
    page.wait_for_url("**/catalog/feature-services/fraud_model")
    shot(page, artifacts, "05-feature-service-fraud_model")
    page.click(f"text={demo.training_set}")
    page.wait_for_url(f"**/catalog/training-sets/{demo.training_set}")
    assert page.locator("#reproduce").inner_text() == \
        f"sparkfs training-set reproduce {demo.training_set} --out DIR"
    shot(page, artifacts, "06-training-set")
    page.close()


def test_the_static_report_opens_with_its_pictures(browser: object, demo: Demo,
                                                  artifacts: Path) -> None:
    out = demo.project.root / "report"
    result = demo.project.run("report", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto((out / "report.html").as_uri())
    assert page.locator("#checklist tr.check").count() >= 20
    pictures = page.locator("svg")
    assert pictures.count() >= 4  # a quality chart per view and the lineage graph
    for i in range(pictures.count()):
        box = pictures.nth(i).bounding_box()
        assert box is not None and box["width"] > 100, i
    assert page.locator("#lineage svg g.node").count() >= 10
    shot(page, artifacts, "07-report")
    page.close()


def test_signing_in_when_auth_is_on(browser: object, tmp_path: Path, artifacts: Path) -> None:
    extra = f"""serving:
  auth_enabled: true
  api_keys: [{{name: reader, sha256: {hash_key("s3cret")}, scopes: ["*"]}}]
"""
    ws = open_catalog_project(tmp_path, """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
feature_views:
  - name: scores
    entities: [user]
    source: {type: delta, path: x/scores}
    timestamp_column: ts
    features: [{name: score, type: float64}]
    owner: team@example.com
""", extra=extra)
    with serve(ws.config.config_path, tmp_path) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        response = page.goto(url + "/catalog")
        assert response.status == 401 and "missing API key" in page.inner_text("#error-message")
        assert page.locator("text=scores").count() == 0
        shot(page, artifacts, "08-sign-in")
        page.fill("input[name=key]", "s3cret")
        page.click("button[type=submit]")
        page.wait_for_url(url + "/catalog")
        assert page.locator("#results a").all_inner_texts() == ["scores", "scores:score", "user"]
        page.close()
