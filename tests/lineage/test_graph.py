"""The graph value and the append-only lineage tables (no Spark)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from sparkfs.lineage.graph import LineageEdge, LineageGraph, LineageNode
from sparkfs.lineage.record import DatasetRef, RunLineage
from sparkfs.lineage.store import LineageStore
from sparkfs.registry import open_engine


def _graph() -> LineageGraph:
    nodes = [LineageNode("source:s", "source", "s"), LineageNode("feature_view:v", "feature_view", "v", "abc"),
             LineageNode("feature:v:f", "feature", "v:f", "abc", {"how": "identity"}),
             LineageNode("feature_service:m", "feature_service", "m", "def"),
             LineageNode("run:r", "run", "training_set"), LineageNode("training_set:t", "training_set", "t")]
    edges = [LineageEdge("source:s", "feature_view:v", "feeds"), LineageEdge("feature_view:v", "feature:v:f", "defines"),
             LineageEdge("feature:v:f", "feature_service:m", "member_of"),
             LineageEdge("feature_service:m", "run:r", "ran", "r"), LineageEdge("run:r", "training_set:t", "wrote", "r"),
             LineageEdge("run:r", "training_set:gone", "wrote", "r")]
    return LineageGraph.build(nodes, edges)


def test_build_drops_dangling_edges_and_walks_both_ways() -> None:
    graph = _graph()
    assert len(graph.edges) == 5
    assert graph.upstream("feature_service:m").ids() == {"feature_service:m", "feature:v:f", "feature_view:v", "source:s"}
    assert graph.downstream("feature_view:v").ids() == {"feature_view:v", "feature:v:f", "feature_service:m",
                                                        "run:r", "training_set:t"}
    assert graph.downstream("feature_view:v", depth=2).ids() == {"feature_view:v", "feature:v:f", "feature_service:m"}
    assert graph.upstream("source:s").ids() == {"source:s"}
    with pytest.raises(KeyError):
        graph.upstream("nope")


def test_json_and_dot() -> None:
    graph = _graph()
    data = json.loads(json.dumps(graph.to_dict()))
    assert {n["id"] for n in data["nodes"]} == graph.ids()
    assert {"src": "run:r", "dst": "training_set:t", "kind": "wrote", "run_id": "r"} in data["edges"]
    assert data["nodes"][2]["attrs"] == {"how": "identity"}
    dot = graph.to_dot()
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert '"feature_service:m" -> "run:r" [label="ran"];' in dot
    assert '"feature_view:v" [label="v\\nfeature_view abc"' in dot


def test_lineage_tables_are_append_only(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    store = LineageStore(engine)
    lineage = RunLineage()
    lineage.read(DatasetRef("source", "/data/s", "3", {"format": "delta"}))
    lineage.wrote(DatasetRef("offline_table", "/data/t", "1"))
    now = datetime.now(UTC)
    fields = {"run_id": "r1", "job": "materialize", "feature_view": "v", "namespace": "production",
              "status": "succeeded", "user": "u", "spark_app_id": None, "started_at": now, "ended_at": now}
    store.record(**fields, lineage=lineage)  # type: ignore[arg-type]
    (run,) = store.runs()
    assert (run.inputs, run.outputs) == (tuple(lineage.inputs), tuple(lineage.outputs))
    with pytest.raises(Exception, match=r"append-only|UNIQUE"):
        store.record(**fields, lineage=lineage)  # type: ignore[arg-type]
    for statement in ("UPDATE lineage_runs SET status = 'failed'", "DELETE FROM lineage_runs",
                      "UPDATE lineage_datasets SET version = '9'", "DELETE FROM lineage_datasets",
                      "INSERT OR REPLACE INTO lineage_datasets (id, run_id, role, kind, name) "
                      "VALUES (1, 'r1', 'input', 'source', 'forged')",
                      "INSERT OR REPLACE INTO lineage_runs SELECT * FROM lineage_runs"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    (again,) = store.runs()
    assert again == run
