"""Pages of purpose-built repositories: version diffs, a rejection, the quality chart (SVG,
escaped) and an offline-only view, over real HTTP."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from sparkfs.governance.lifecycle import ReviewBoard
from sparkfs.portal.charts import quality_chart_svg
from sparkfs.portal.readmodel import QualityPoint
from tests.catalog_project import open_catalog_project, record_gate, record_run
from tests.portal.server import serve

V1 = """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
feature_views:
  - name: scores
    entities: [user]
    source: {type: delta, path: x/scores}
    timestamp_column: ts
    features: [{name: score, type: float64, description: the <b>score</b>}]
    ttl: 1d
    owner: team@example.com
    description: scores of users
    online: false
    expectations: [{type: not_null, column: user_id}]
"""


def test_versions_diffs_reviews_and_quality(tmp_path: Path) -> None:
    ws = open_catalog_project(tmp_path, V1)
    run = record_run(ws, "scores")
    record_gate(ws, "scores", run, [("not_null(user_id)", "error", True),
                                    ("<script>alert(1)</script>", "warn", False)])
    (tmp_path / "conf" / "features" / "all.yaml").write_text(V1.replace("ttl: 1d", "ttl: 2d"))
    from sparkfs.pipeline.workspace import Workspace

    ws2 = Workspace.open(ws.config, user="author")
    ws2.definitions.apply(ws2.repository, user="author")
    board = ReviewBoard(ws.engine, ws.config.governance)
    board.request("author", "scores", comment="longer ttl")
    board.reject("bob", "scores", comment="2d is too stale for scoring")
    with serve(ws.config.config_path, tmp_path) as url:
        text = httpx.get(url + "/catalog/feature-views/scores").text
    versions = text[text.index('id="versions"'):text.index('id="reviews"')]
    assert re.search(r"<td><code>ttl</code></td><td>1d</td><td>2d</td>", versions), versions
    assert versions.count("head</span>") == 1 and "first version" in versions
    reviews = text[text.index('id="reviews"'):]
    assert re.search(r"<td>reject</td><td>bob</td>.*?2d is too stale for scoring", reviews, re.S)
    assert 'class="badge rejected">rejected' in text
    assert "the &lt;b&gt;score&lt;/b&gt;" in text  # descriptions are escaped
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'class="bar passed"' in text and 'class="bar warned"' in text
    assert "Offline only" in text and "features:lookup" not in text


def test_the_quality_chart_is_valid_svg_with_a_bar_per_outcome() -> None:
    now = datetime.now(UTC)
    points = [QualityPoint(f"run{i}", now + timedelta(hours=i), 3 - i % 2, i % 2, 0,
                           ("not_null(x) (4 rows)",) if i % 2 else ()) for i in range(5)]
    svg = quality_chart_svg(points)
    root = ET.fromstring(svg)  # well-formed XML
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect")
            if "bar" in (e.get("class") or "")]
    assert [b.get("class") for b in bars].count("bar failed") == 2
    assert [b.get("class") for b in bars].count("bar passed") == 5
    tall = max(float(b.get("height") or 0) for b in bars)
    assert tall > 100  # drawn to scale, not flat
    assert "not_null(x) (4 rows)" in svg
    assert "no quality gate results" in quality_chart_svg([])
