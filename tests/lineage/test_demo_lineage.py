"""After the demo pipeline, up- and downstream queries return exactly the expected graph."""

from __future__ import annotations

import json

import pytest

from sparkfs.definitions import definition_version
from sparkfs.errors import NotFoundError
from sparkfs.lineage.query import lineage, source_location
from sparkfs.lineage.store import LineageStore
from sparkfs.pipeline.materialize import offline_table
from sparkfs.registry.checkpoints import SqlCheckpointStore
from sparkfs.registry.training_sets import TrainingSetStore
from sparkfs.store import FeatureStore
from tests.lineage.conftest import Demo

AGG_VIEWS = ("merchant_txn_aggs", "user_txn_aggs")


def _source(demo: Demo, view: str) -> str:
    ws = demo.workspace
    return f"source:{source_location(ws.repository.feature_view(view), ws.config.data_dir)}"


def _features(demo: Demo, view: str, only: list[str] | None = None) -> set[str]:
    names = demo.workspace.repository.feature_view(view).feature_names()
    return {f"feature:{view}:{n}" for n in names if only is None or n in only}


def _service_features(demo: Demo) -> set[str]:
    return (_features(demo, "user_profile", ["age", "is_premium"]) | _features(demo, "user_txn_aggs")
            | _features(demo, "merchant_txn_aggs"))


def _runs(demo: Demo, job: str, view: str | None = None) -> list[str]:
    return [r.run_id for r in LineageStore(demo.workspace.engine).runs()
            if r.job == job and (view is None or r.feature_view == view)]


def _tables(demo: Demo, view: str) -> set[str]:
    """The offline table versions the demo's materialization of ``view`` wrote."""
    store = LineageStore(demo.workspace.engine)
    (run_id,) = _runs(demo, "materialize", view)
    run = store.run(run_id)
    assert run is not None
    return {f"offline_table:{d.name}@{d.version}" for d in run.outputs}


def test_upstream_of_the_service_is_features_views_and_sources(demo: Demo) -> None:
    graph = lineage(demo.workspace, "fraud_model", direction="upstream")
    views = {f"feature_view:{v}" for v in ("user_profile", *AGG_VIEWS)}
    sources = {_source(demo, "user_profile"), _source(demo, "user_txn_aggs")}
    assert graph.ids() == {"feature_service:fraud_model"} | _service_features(demo) | views | sources
    expected_edges = {(f, "feature_service:fraud_model", "member_of") for f in _service_features(demo)}
    expected_edges |= {(f"feature_view:{f.split(':')[1]}", f, "defines") for f in _service_features(demo)}
    expected_edges |= {(_source(demo, v), f"feature_view:{v}", "feeds") for v in ("user_profile", *AGG_VIEWS)}
    assert {(e.src, e.dst, e.kind) for e in graph.edges} == expected_edges
    repo = demo.workspace.repository
    for view in ("user_profile", *AGG_VIEWS):
        assert graph.node(f"feature_view:{view}").version == definition_version(repo.feature_view(view))
        assert graph.node(f"feature:{view}:{repo.feature_view(view).feature_names()[0]}").version == \
            definition_version(repo.feature_view(view))
    assert graph.node("feature_service:fraud_model").version == definition_version(repo.feature_services["fraud_model"])
    # the source node carries the Delta version the runs read
    assert graph.node(_source(demo, "user_txn_aggs")).version == "0"


def test_upstream_of_the_training_set_names_every_version_it_read(demo: Demo) -> None:
    ts_id = demo.summary["training_set"]["id"]
    graph = lineage(demo.workspace, ts_id, direction="upstream")
    (ts_run,) = _runs(demo, "training_set")
    record = TrainingSetStore(demo.workspace.engine).get(ts_id)
    ws = demo.workspace
    read = {f"offline_table:{offline_table(ws, ws.repository.feature_view(v)).path}@{n}"
            for v, n in record.table_versions.items()}
    all_views = ("user_profile", *AGG_VIEWS)
    tables = set().union(*(_tables(demo, v) for v in all_views))
    assert read <= tables, "the training set read what the materializations wrote"
    spine = f"source:{record.spine}"
    mat_runs = {f"run:{r}" for v in all_views for r in _runs(demo, "materialize", v)}
    expected = ({f"training_set:{ts_id}", f"run:{ts_run}", "feature_service:fraud_model", spine}
                | _service_features(demo) | {f"feature_view:{v}" for v in all_views}
                | {_source(demo, "user_profile"), _source(demo, "user_txn_aggs")} | tables | mat_runs)
    assert graph.ids() == expected
    kinds = {(e.src, e.dst): e.kind for e in graph.edges}
    assert kinds[(f"run:{ts_run}", f"training_set:{ts_id}")] == "wrote"
    assert kinds[("feature_service:fraud_model", f"run:{ts_run}")] == "ran"
    assert kinds[(spine, f"run:{ts_run}")] == "read"
    for table in read:
        assert kinds[(table, f"run:{ts_run}")] == "read"
        assert graph.node(table).version == table.rsplit("@", 1)[1]
    run = graph.node(f"run:{ts_run}")
    assert run.attrs["status"] == "succeeded" and run.attrs["user"] == "tester"
    assert run.attrs["definitions"]["feature_service:fraud_model"] == \
        definition_version(ws.repository.feature_services["fraud_model"])
    assert run.attrs["code"]["sparkfs_version"]
    assert run.attrs["spark_app_id"]


def test_downstream_of_the_transactions_reaches_views_service_training_set_and_generations(demo: Demo) -> None:
    graph = lineage(demo.workspace, "demo/transactions", direction="downstream")
    assert graph.ids("feature_view") == {f"feature_view:{v}" for v in AGG_VIEWS}
    assert graph.ids("feature_service") == {"feature_service:fraud_model"}
    assert graph.ids("training_set") == {f"training_set:{demo.summary['training_set']['id']}"}
    checkpoints = SqlCheckpointStore(demo.workspace.engine, "production")
    generations = {f"online_generation:sfs/{v}@{checkpoints.get(v).generation}" for v in AGG_VIEWS}  # type: ignore[union-attr]
    assert graph.ids("online_generation") == generations
    assert graph.ids("source") == {_source(demo, "user_txn_aggs")}
    assert graph.ids("feature") == _features(demo, "user_txn_aggs") | _features(demo, "merchant_txn_aggs")
    runs = {f"run:{r}" for v in AGG_VIEWS for job in ("materialize", "sync") for r in _runs(demo, job, v)}
    runs |= {f"run:{r}" for r in _runs(demo, "training_set")}
    assert graph.ids("run") == runs
    assert graph.ids("offline_table") == _tables(demo, "user_txn_aggs") | _tables(demo, "merchant_txn_aggs")
    assert "feature_view:user_profile" not in graph.ids()


def test_downstream_of_a_view_reaches_its_online_generation(demo: Demo) -> None:
    graph = lineage(demo.workspace, "user_profile", direction="downstream")
    generation = SqlCheckpointStore(demo.workspace.engine, "production").get("user_profile")
    assert generation is not None
    assert graph.ids("online_generation") == {f"online_generation:sfs/user_profile@{generation.generation}"}
    assert graph.ids("feature") == _features(demo, "user_profile")
    assert graph.ids("feature_service") == {"feature_service:fraud_model"}
    assert {n.id for n in graph.nodes if n.kind == "feature_view"} == {"feature_view:user_profile"}


def test_depth_limits_the_hops(demo: Demo) -> None:
    one = lineage(demo.workspace, "user_profile", direction="upstream", depth=1)
    assert one.ids() == {"feature_view:user_profile", _source(demo, "user_profile")}
    zero = lineage(demo.workspace, "user_profile:age", depth=0)
    assert zero.ids() == {"feature:user_profile:age"} and zero.edges == ()


def test_both_directions_and_the_feature_store_agree(spark: object, demo: Demo) -> None:
    both = lineage(demo.workspace, "user_profile:age")
    assert {"feature_view:user_profile", "feature_service:fraud_model"} <= both.ids()
    store = FeatureStore(spark, demo.workspace)  # type: ignore[arg-type]
    assert store.lineage("user_profile:age").to_dict() == both.to_dict()
    json.dumps(both.to_dict())  # JSON-able as it is


def test_a_run_id_prefix_and_unknown_names(demo: Demo) -> None:
    (ts_run,) = _runs(demo, "training_set")
    graph = lineage(demo.workspace, ts_run[:12], direction="downstream")
    assert graph.ids() == {f"run:{ts_run}", f"training_set:{demo.summary['training_set']['id']}"}
    with pytest.raises(NotFoundError, match="nothing named 'no_such_thing'"):
        lineage(demo.workspace, "no_such_thing")


def test_feature_nodes_carry_the_recorded_column_lineage(demo: Demo) -> None:
    graph = lineage(demo.workspace, "user_profile", direction="downstream", depth=1)
    users = _source(demo, "user_profile").removeprefix("source:")
    age = graph.node("feature:user_profile:age").attrs
    assert (age["how"], age["derived_from"], age["detail"]) == ("transformation", [[users, "age"]], "CAST(age AS INT)")
    country = graph.node("feature:user_profile:country").attrs
    assert (country["how"], country["derived_from"]) == ("identity", [[users, "country"]])
