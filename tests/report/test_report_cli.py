"""``sparkfs report``: the files it writes and its exit codes as a CI gate (``--fail-on``)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.catalog_project import open_catalog_project
from tests.project import Project
from tests.registry.tampering import drop_triggers, raw

ENTITY_ONLY = "entities: [{name: user, join_keys: [{name: user_id, type: int64}]}]\n"
ONE_VIEW = """
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


def cli(tmp_path: Path, features: str) -> Project:
    ws = open_catalog_project(tmp_path, features)
    return Project(root=tmp_path, config=Path(ws.config.config_path))


def test_it_writes_html_markdown_and_json(tmp_path: Path) -> None:
    project = cli(tmp_path, ONE_VIEW)
    out = tmp_path / "out"
    result = project.run("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("governance report: FAIL (")
    assert "FAIL feature_view scores: ttl set: no ttl" in result.stdout
    assert f"html {out / 'report.html'}" in result.stdout
    html = (out / "report.html").read_text()
    assert "<style>" in html and "<link" not in html and "<script" not in html
    assert 'data-subject="feature_view:scores" data-item="ttl set"' in html
    md = (out / "report.md").read_text()
    assert "### feature view scores — FAIL" in md and "| ttl set | FAIL |" in md
    data = json.loads((out / "report.json").read_text())
    assert data["level"] == "fail" and data["registry"]["intact"] is True
    items = {c["item"]: c["level"] for s in data["checklist"] if s["name"] == "scores"
             for c in s["checks"]}
    assert items["ttl set"] == "fail" and items["owner and description"] == "warn"
    assert [f["feature"] for f in data["lineage"]["features"]] == ["scores:score"]
    only = project.run("report", "--out", str(tmp_path / "md"), "--format", "md")
    assert only.returncode == 0 and [p.name for p in (tmp_path / "md").iterdir()] == ["report.md"]


def test_fail_on_makes_it_a_ci_gate(tmp_path: Path) -> None:
    failing = cli(tmp_path / "a", ONE_VIEW)
    assert failing.run("report", "--out", str(tmp_path / "r1")).returncode == 0
    assert failing.run("report", "--out", str(tmp_path / "r1"), "--fail-on", "fail").returncode == 1
    assert failing.run("report", "--out", str(tmp_path / "r1"), "--fail-on", "warn").returncode == 1
    passing = cli(tmp_path / "b", ENTITY_ONLY)
    result = passing.run("report", "--out", str(tmp_path / "r2"), "--fail-on", "fail")
    assert result.returncode == 0 and "governance report: PASS" in result.stdout, result.stdout


def test_a_registry_failing_verification_fails_the_gate(tmp_path: Path) -> None:
    project = cli(tmp_path, ENTITY_ONLY)
    assert project.run("report", "--out", str(tmp_path / "r"), "--fail-on", "fail").returncode == 0
    db = tmp_path / "registry.db"
    drop_triggers(db)
    with raw(db) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 1")
    result = project.run("report", "--out", str(tmp_path / "r"), "--fail-on", "fail")
    assert result.returncode == 1
    assert "FAIL registry catalogtest: audit log intact: the registry fails `sparkfs audit verify`" \
        in result.stdout
    assert 'id="integrity-banner"' in (tmp_path / "r" / "report.html").read_text()
