"""``sparkfs lineage``: the same graph as the library, as a tree, JSON or DOT."""

from __future__ import annotations

import json

from sparkfs.lineage.query import lineage
from tests.lineage.conftest import Demo


def test_json_is_the_library_graph(demo: Demo) -> None:
    result = demo.project.run("lineage", "fraud_model", "--upstream", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = lineage(demo.workspace, "fraud_model", direction="upstream").to_dict()
    assert (data["root"], data["direction"]) == ("feature_service:fraud_model", "upstream")
    assert data["nodes"] == expected["nodes"] and data["edges"] == expected["edges"]


def test_text_tree_and_dot(demo: Demo) -> None:
    ts_id = demo.summary["training_set"]["id"]
    result = demo.project.run("lineage", "demo/transactions", "--downstream", "--depth", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("source ") and lines[1] == "downstream:"
    assert any(line.strip().startswith("-> feeds  feature_view user_txn_aggs (version ") for line in lines)
    assert not any("user_profile" in line for line in lines)
    dot = demo.project.run("lineage", ts_id, "--upstream", "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph lineage {")
    assert f'"training_set:{ts_id}"' in dot.stdout


def test_an_unknown_name_says_what_to_give(demo: Demo) -> None:
    result = demo.project.run("lineage", "fraud_modle")
    assert result.returncode == 1
    assert "nothing named 'fraud_modle'" in result.stderr and "feature service" in result.stderr
