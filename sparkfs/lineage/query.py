"""Lineage queries: the graph of a workspace, and the part of it up- or downstream of a name.

The graph has two layers:

* definitions (edges without a run): ``source --feeds--> feature_view --defines--> feature
  --member_of--> feature_service``, from the repository at its current versions;
* runs (edges with the run's id), from the registry's lineage tables: ``feature_view`` (or
  ``feature_service``, or the ``feature`` nodes a training set selected) ``--ran--> run``,
  every input ``--read--> run``, ``run --wrote-->`` every output, and between two versions
  of one offline table ``table@N --next_version--> table@M``, since a Delta version holds
  what the versions before it wrote.

Offline tables are one node per Delta version, so the downstream of a run that wrote version
N reaches what read N or later, and not what read the table before the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from sparkfs.definitions import FeatureView, definition_version
from sparkfs.errors import NotFoundError, ValidationError
from sparkfs.lineage.graph import LineageEdge, LineageGraph, LineageNode
from sparkfs.lineage.record import DatasetRef
from sparkfs.lineage.store import LineageRun, LineageStore

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["Direction", "dataset_node_id", "full_graph", "lineage", "resolve_node", "source_location"]

Direction = Literal["upstream", "downstream", "both"]


def source_location(view: FeatureView, data_dir: str) -> str:
    """Where a view's source is read from, as runs record it (``table:NAME`` for a table)."""
    from sparkfs.offline.source import resolve_source_path

    src = view.source
    return f"table:{src.table}" if src.type == "table" else resolve_source_path(src.path, data_dir)


def dataset_node_id(dataset: DatasetRef) -> str:
    """The node id of a dataset: versioned for offline tables and online generations."""
    if dataset.kind in ("offline_table", "online_generation"):
        return f"{dataset.kind}:{dataset.name}@{dataset.version}"
    return f"{dataset.kind}:{dataset.name}"


def lineage(workspace: Workspace, name: str, *, direction: Direction = "both",
            depth: int | None = None) -> LineageGraph:
    """The lineage of ``name`` in ``workspace`` (its namespace's runs).

    Args:
        name: a source (its path as declared or resolved, or ``table:NAME``), a feature view,
            ``view:feature``, a feature service, a training set id, a run id (or a prefix of
            eight characters or more), or a node id such as ``feature_service:fraud_model``.
        direction: ``upstream`` (what it derives from), ``downstream`` (what it reached) or both.
        depth: at most this many edges away; ``None`` for all.

    Raises:
        NotFoundError: nothing has that name.
        ValidationError: a bad direction or depth, or a name that several kinds share.
    """
    if direction not in ("upstream", "downstream", "both"):
        raise ValidationError(f"direction {direction!r}: use upstream, downstream or both")
    if depth is not None and depth < 0:
        raise ValidationError(f"depth {depth}: give a number of edges, 0 or more")
    graph = full_graph(workspace)
    node_id = resolve_node(graph, workspace, name)
    if direction == "upstream":
        return graph.upstream(node_id, depth)
    if direction == "downstream":
        return graph.downstream(node_id, depth)
    return graph.upstream(node_id, depth).union(graph.downstream(node_id, depth))


def resolve_node(graph: LineageGraph, workspace: Workspace, name: str) -> str:
    """The node id ``name`` stands for (see :func:`lineage`)."""
    ids = graph.ids()
    if name in ids:
        return name
    candidates = [f"feature_view:{name}", f"feature_service:{name}", f"training_set:{name}",
                  f"run:{name}", f"source:{name}"]
    if ":" in name and not name.startswith("table:"):
        candidates.append(f"feature:{name}")
    for view in workspace.repository.feature_views.values():
        src = view.source
        declared = f"table:{src.table}" if src.type == "table" else src.path
        if name == declared:
            candidates.append(f"source:{source_location(view, workspace.config.data_dir)}")
    found = list(dict.fromkeys(c for c in candidates if c in ids))
    if not found and len(name) >= 8:
        found = [i for i in ids if i.startswith(f"run:{name}")]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ValidationError(f"{name!r} names several things ({', '.join(sorted(found))}); "
                              "pass one of these node ids instead")
    raise NotFoundError(
        f"nothing named {name!r} in the lineage of this workspace; give a source path, a feature "
        "view, view:feature, a feature service, a training set id or a run id (`sparkfs runs` "
        "lists runs, `sparkfs training-set list` training sets)")


def full_graph(workspace: Workspace) -> LineageGraph:
    """The whole lineage graph of the workspace's namespace (see the module docstring)."""
    nodes, edges = _definition_layer(workspace)
    runs = LineageStore(workspace.engine).runs(namespace=workspace.namespace)
    run_nodes, run_edges = _run_layer(runs)
    nodes = _with_column_lineage([*nodes, *run_nodes], runs)
    return LineageGraph.build(nodes, [*edges, *run_edges])


def _definition_layer(workspace: Workspace) -> tuple[list[LineageNode], list[LineageEdge]]:
    repo = workspace.repository
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    for name in sorted(repo.feature_views):
        view = repo.feature_views[name]
        version = definition_version(view)
        view_id = f"feature_view:{name}"
        location = source_location(view, workspace.config.data_dir)
        nodes.append(LineageNode(f"source:{location}", "source", location, None, {"format": view.source.type}))
        nodes.append(LineageNode(view_id, "feature_view", name, version, {
            "owner": view.owner, "description": view.description, "tags": dict(view.tags),
            "online": view.online, "entities": list(view.entities),
            "file": repo.files.get(f"feature_view/{name}")}))
        edges.append(LineageEdge(f"source:{location}", view_id, "feeds"))
        for feature in view.feature_names():
            feature_id = f"feature:{name}:{feature}"
            nodes.append(LineageNode(feature_id, "feature", f"{name}:{feature}", version, {}))
            edges.append(LineageEdge(view_id, feature_id, "defines"))
    for name in sorted(repo.feature_services):
        service = repo.feature_services[name]
        service_id = f"feature_service:{name}"
        nodes.append(LineageNode(service_id, "feature_service", name, definition_version(service), {
            "owner": service.owner, "description": service.description, "tags": dict(service.tags)}))
        for ref in repo.service_features(name):
            edges.append(LineageEdge(f"feature:{ref.view}:{ref.feature}", service_id, "member_of"))
    return nodes, edges


def _run_node(run: LineageRun) -> LineageNode:
    label = f"{run.job} {run.feature_view}" if run.feature_view else run.job
    version = run.definitions.get(f"feature_view:{run.feature_view}") if run.feature_view else None
    attrs: dict[str, Any] = {
        "job": run.job, "status": run.status, "user": run.user, "namespace": run.namespace,
        "spark_app_id": run.spark_app_id, "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat(), "definitions": run.definitions, "code": run.code,
        "details": {k: v for k, v in run.details.items() if k != "columns"},
        "inputs": [_io(d) for d in run.inputs], "outputs": [_io(d) for d in run.outputs],
    }
    return LineageNode(f"run:{run.run_id}", "run", label, version, attrs)


def _io(dataset: DatasetRef) -> dict[str, Any]:
    return {"id": dataset_node_id(dataset), "kind": dataset.kind, "name": dataset.name,
            "version": dataset.version}


def _dataset_node(dataset: DatasetRef) -> LineageNode:
    attrs = {k: v for k, v in dataset.facets.items() if k not in ("files", "schema")}
    if "schema" in dataset.facets:
        attrs["schema"] = dataset.facets["schema"]
    version = None if dataset.kind == "source" else dataset.version
    return LineageNode(dataset_node_id(dataset), dataset.kind, dataset.name, version, attrs)


def _run_layer(runs: Iterable[LineageRun]) -> tuple[list[LineageNode], list[LineageEdge]]:
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    table_versions: dict[str, dict[int, str | None]] = {}  # path -> version -> writing run
    source_versions: dict[str, list[str]] = {}
    for run in runs:
        run_id = f"run:{run.run_id}"
        nodes.append(_run_node(run))
        features = run.details.get("features")
        for key in run.definitions:
            kind, _, name = key.partition(":")
            if kind == "feature_view" and run.job == "training_set":
                continue  # a training set's views show through the features it selected
            edges.append(LineageEdge(f"{kind}:{name}", run_id, "ran", run.run_id))
        if run.job in ("training_set", "reproduce") and features and \
                not any(k.startswith("feature_service:") for k in run.definitions):
            edges += [LineageEdge(f"feature:{f}", run_id, "selected", run.run_id) for f in features]
        for dataset in run.inputs:
            nodes.append(_dataset_node(dataset))
            edges.append(LineageEdge(dataset_node_id(dataset), run_id, "read", run.run_id))
            if dataset.kind == "offline_table" and dataset.version is not None:
                table_versions.setdefault(dataset.name, {}).setdefault(int(dataset.version), None)
            if dataset.kind == "source" and dataset.version is not None:
                source_versions.setdefault(dataset.name, []).append(dataset.version)
        for dataset in run.outputs:
            nodes.append(_dataset_node(dataset))
            edges.append(LineageEdge(run_id, dataset_node_id(dataset), "wrote", run.run_id))
            if dataset.kind == "offline_table" and dataset.version is not None:
                table_versions.setdefault(dataset.name, {})[int(dataset.version)] = run.run_id
    for path, versions in table_versions.items():
        ordered = sorted(versions)
        for before, after in pairwise(ordered):
            edges.append(LineageEdge(f"offline_table:{path}@{before}", f"offline_table:{path}@{after}",
                                     "next_version", versions[after]))
    nodes = _sources_with_versions(nodes, source_versions)
    return nodes, edges


def _sources_with_versions(nodes: list[LineageNode], read: dict[str, list[str]]) -> list[LineageNode]:
    """A Delta source's node carries the latest version a run read, and all it read."""
    out = []
    for node in nodes:
        if node.kind == "source" and node.name in read:
            versions = sorted(set(read[node.name]), key=int)
            node = LineageNode(node.id, "source", node.name, read[node.name][-1],
                               {**node.attrs, "versions_read": versions})
        out.append(node)
    return out


def _with_column_lineage(nodes: list[LineageNode], runs: list[LineageRun]) -> list[LineageNode]:
    """Feature nodes get the column lineage the latest successful materialization of their
    view version recorded (``derived_from``, ``how``, ``detail``)."""
    latest: dict[tuple[str, str | None], dict[str, Any]] = {}
    for run in runs:
        columns = run.details.get("columns")
        if run.status == "succeeded" and run.feature_view and columns:
            version = run.definitions.get(f"feature_view:{run.feature_view}")
            for item in columns:
                latest[(f"{run.feature_view}:{item['feature']}", version)] = item
    out = []
    for node in nodes:
        item = latest.get((node.name, node.version)) if node.kind == "feature" else None
        if item is not None:
            node = LineageNode(node.id, node.kind, node.name, node.version, {
                **node.attrs, "derived_from": [list(s) for s in item["sources"]], "how": item["how"],
                "detail": item["detail"]})
        out.append(node)
    return out
