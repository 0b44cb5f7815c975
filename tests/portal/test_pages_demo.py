"""Every catalog page, rendered by ``sparkfs serve`` over real HTTP against the demo repository
after a pipeline run, says what it should."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from tests.portal.conftest import Demo

pytestmark = pytest.mark.slow


def page(url: str, path: str, **params: str) -> str:
    response = httpx.get(url + path, params=params, timeout=60)
    assert response.status_code == 200, (path, response.text[:1000])
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    # everything ships in the page: no script, style sheet or picture from anywhere else
    assert "<script" not in text and "<link" not in text and not re.search(r'src="https?:', text)
    return text


def section(text: str, element_id: str) -> str:
    start = text.index(f'id="{element_id}"')
    return text[start:start + 20_000]


def test_search_lists_views_features_services_and_entities(demo: Demo, demo_url: str) -> None:
    text = page(demo_url, "/catalog")
    for name in ("user_profile", "user_txn_aggs", "merchant_txn_aggs", "fraud_model",
                 "user_profile:age", "user_txn_aggs:txn_count_1d"):
        assert f">{name}</a>" in text, name
    assert re.search(r'>user</a>.*?user_id \(int64\)', text, re.S)
    found = page(demo_url, "/catalog", q="txn", kind="feature_view")
    assert "2 result(s)" in found and ">user_txn_aggs</a>" in found and "user_profile" not in found
    pii = page(demo_url, "/catalog", pii="yes", kind="feature_view")
    assert "1 result(s)" in pii and ">user_profile</a>" in pii and 'class="badge pii"' in pii
    approved = page(demo_url, "/catalog", state="approved", kind="feature_view")
    assert "1 result(s)" in approved and ">user_profile</a>" in approved
    fresh = page(demo_url, "/catalog", freshness="fresh", kind="feature_view")
    assert "3 result(s)" in fresh
    owned = page(demo_url, "/catalog", owner="risk-team", entity="merchant", kind="feature_view")
    assert "1 result(s)" in owned and ">merchant_txn_aggs</a>" in owned
    assert "2 result(s)" in page(demo_url, "/catalog", tag="domain=payments", kind="feature_view")


def test_the_page_of_a_feature_view(demo: Demo, demo_url: str) -> None:
    text = page(demo_url, "/catalog/feature-views/user_profile")
    assert "Slowly changing user profile attributes." in text
    assert 'id="owner">risk-team@example.com' in text
    assert "<code>user_id</code> (int64)" in section(text, "keys")
    features = section(text, "features")
    assert re.search(r'id="feature-age"><td><code>age</code></td><td>int32</td>.*?badge pii', features, re.S)
    assert "transformation of <code>age</code>" in features  # CAST(age AS INT), from the plan
    assert 'id="ttl">365d' in text and 'id="availability-delay">0s' in text
    # versions and the review history: who asked, who approved, when, with the comment
    assert "head</span>" in section(text, "versions")
    reviews = section(text, "reviews")
    assert re.search(r"<td>request</td><td>tester</td>.*?ready for review", reviews, re.S)
    assert re.search(r"<td>approve</td><td>alice</td>.*?checked the PII tags", reviews, re.S)
    # runs: status, rows, duration, Delta version, Spark app id
    runs = section(text, "runs")
    run = demo.summary["materialized"]["user_profile"]
    assert re.search(rf"<td>materialize</td><td><span class=\"badge succeeded\">succeeded</span>.*?"
                     rf"/ {run['rows_written']}</td><td>[\d.]+ s</td>\s*<td>{run['table_version']}</td>"
                     r"<td><code>local-\d+</code>", runs, re.S), runs[:3000]
    assert "<td>sync</td>" in runs
    # quality gate results over time: a real SVG chart with a bar per run
    quality = section(text, "quality")
    assert quality.index("<svg") < quality.index("</svg>") and 'class="bar passed"' in quality
    # freshness, offline and online
    freshness = section(text, "freshness")
    assert "offline: last materialization</td><td>20" in freshness
    assert "online: last sync</td><td>20" in freshness
    # the lineage graph as a picture (Graphviz SVG) naming the source, the view and its service
    lineage = section(text, "lineage")
    svg = lineage[lineage.index("<svg"):lineage.index("</svg>")]
    assert 'class="node"' in svg and "user_profile" in svg and "fraud_model" in svg
    # consumers and a lookup request one can copy
    consumers = section(text, "consumers")
    assert ">fraud_model</a>" in consumers and f">{demo.training_set}</a>" in consumers
    request = html.unescape(re.search(r"-d '(.*?)'", section(text, "lookup-request")).group(1))
    assert json.loads(request) == {"features": ["user_profile:*"], "entities": {"user_id": [1]}}


def test_an_aggregation_view_shows_its_windows(demo_url: str) -> None:
    text = page(demo_url, "/catalog/feature-views/user_txn_aggs")
    assert 'id="windows">1h, 1d, 7d, 30d at hour grain' in text
    assert "count(amount) over 7d" in text
    assert "aggregation of <code>amount</code>" in section(text, "features")


def test_the_page_of_a_feature_service(demo: Demo, demo_url: str) -> None:
    text = page(demo_url, "/catalog/feature-services/fraud_model")
    assert "Features of the card fraud model." in text
    features = section(text, "service-features")
    for ref in ("user_profile:age", "user_txn_aggs:*", "merchant_txn_aggs:*"):
        assert f"<code>{ref}</code>" in features
    assert f">{demo.training_set}</a>" in section(text, "service-training-sets")


def test_the_pages_of_training_sets(demo: Demo, demo_url: str) -> None:
    listing = page(demo_url, "/catalog/training-sets")
    assert f">{demo.training_set}</a>" in listing
    text = page(demo_url, f"/catalog/training-sets/{demo.training_set}")
    assert f"sparkfs training-set reproduce {demo.training_set} --out DIR" in text
    versions = section(text, "read-versions")
    for view, version in demo.summary["training_set"]["table_versions"].items():
        assert re.search(rf">{view}</a></td><td><code>\w+</code></td><td>{version}</td>", versions)


def test_unknown_names_answer_404_pages(demo_url: str) -> None:
    for path in ("/catalog/feature-views/nope", "/catalog/feature-services/nope",
                 "/catalog/training-sets/nope"):
        response = httpx.get(demo_url + path)
        assert response.status_code == 404 and 'id="error-message"' in response.text
