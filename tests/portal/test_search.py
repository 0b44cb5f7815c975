"""Search and filters over a catalog of 500 feature views: server-side, paged, small pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.catalog_project import approve, open_catalog_project, record_run, record_sync
from tests.portal.server import serve

N = 500


def features_yaml(n: int = N) -> str:
    lines = ["entities:", "  - {name: user, join_keys: [{name: user_id, type: int64}]}",
             "  - {name: shop, join_keys: [{name: shop_id, type: string}]}", "feature_views:"]
    for i in range(n):
        entity = "shop" if i % 5 == 0 else "user"
        pii = '"true"' if i % 10 == 3 else '"false"'
        lines += [
            f"  - name: view_{i:03d}",
            f"    entities: [{entity}]",
            f"    source: {{type: delta, path: x/v{i}}}",
            "    timestamp_column: ts",
            f"    features: [{{name: f_{i}, type: float64, description: feature number {i}}}]",
            f"    owner: team{i % 7}@example.com",
            f"    description: view number {i}{' about payments' if i % 50 == 0 else ''}",
            f"    tags: {{pii: {pii}, domain: d{i % 4}}}",
            "    ttl: 1d",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("catalog500")
    ws = open_catalog_project(root, features_yaml(), extra="catalog: {page_size: 50}")
    approve(ws, "view_007")
    record_run(ws, "view_010")
    record_sync(ws, "view_010")
    record_run(ws, "view_011")  # materialized, never synced: stale
    with serve(ws.config.config_path, root) as url:
        yield url, N


def names(html: str) -> list[str]:
    return re.findall(r'<tr class="hit (\w+)">\s*<td>[^<]*</td>\s*<td><a href="[^"]*">([^<]+)</a>',
                      html)


def get(url: str, **params: str) -> str:
    started = time.monotonic()
    response = httpx.get(url + "/catalog", params=params, timeout=60)
    assert response.status_code == 200, response.text[:500]
    assert time.monotonic() - started < 10
    return response.text


def test_a_page_is_bounded_whatever_the_catalog_size(catalog: tuple[str, int]) -> None:
    url, n = catalog
    first = get(url)
    assert f"{n * 2 + 2} result(s), page 1 of {-(-(n * 2 + 2) // 50)}" in first
    assert len(names(first)) == 50 and len(first) < 200_000
    last = get(url, page="999")
    assert "page 21 of 21" in last
    assert 'id="next-page"' not in last and 'id="prev-page"' in last


def test_filters(catalog: tuple[str, int]) -> None:
    url, _ = catalog
    hits = names(get(url, q="about payments", kind="feature_view"))
    assert [h[1] for h in hits] == [f"view_{i:03d}" for i in range(0, 500, 50)]
    owned = names(get(url, owner="team3@", kind="feature_view", page="1"))
    assert owned and all(int(name[5:]) % 7 == 3 for _, name in owned)
    pii = get(url, pii="yes", kind="feature_view")
    assert "50 result(s)" in pii and 'class="badge pii"' in pii
    shops = get(url, entity="shop", kind="feature_view")
    assert "100 result(s)" in shops
    assert "125 result(s)" in get(url, tag="domain=d1", kind="feature_view")
    approved = names(get(url, state="approved"))
    assert {n for _, n in approved} == {"view_007", "view_007:f_7"}
    assert [n for _, n in names(get(url, freshness="fresh", kind="feature_view"))] == ["view_010"]
    assert [n for _, n in names(get(url, freshness="stale", kind="feature_view"))] == ["view_011"]
    assert "498 result(s)" in get(url, freshness="never", kind="feature_view")
    feature = names(get(url, q="number 42", kind="feature"))
    assert feature[0] == ("feature", "view_042:f_42") and len(feature) == 11  # 42, 420-429
    entities = names(get(url, kind="entity"))
    assert entities == [("entity", "shop"), ("entity", "user")]
    none = get(url, q="no such thing")
    assert "0 result(s)" in none and "Nothing matches" in none
