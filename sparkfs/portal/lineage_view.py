"""Lineage for the catalog and the report: the graph of issue 18 drawn by Graphviz, and per
feature its column lineage and the training sets (models) that read it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkfs.errors import SparkfsError
from sparkfs.lineage.columns import column_lineage
from sparkfs.lineage.graph import LineageGraph
from sparkfs.lineage.query import full_graph, lineage
from sparkfs.portal.graphs import dot_to_svg
from sparkfs.registry.training_sets import TrainingSetRecord

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["FeatureLineage", "LineagePicture", "feature_lineage", "full_picture", "view_picture"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineagePicture:
    """An SVG of a lineage graph, or None with the reason in ``note``."""

    svg: str | None
    note: str
    nodes: int = 0
    edges: int = 0


@dataclass(frozen=True)
class FeatureLineage:
    """Where one feature comes from, and which training sets (and so which models) read it."""

    ref: str  # view:feature
    how: str  # identity / transformation / aggregation / unknown
    sources: tuple[tuple[str, str], ...]
    detail: str
    recorded: bool  # from a run (analysed plan) rather than only the declaration
    training_sets: tuple[tuple[str, str | None], ...]  # (id, feature service)


def _draw(graph: LineageGraph, what: str) -> LineagePicture:
    if not graph.nodes:
        return LineagePicture(None, f"no lineage recorded for {what} yet")
    try:
        svg = dot_to_svg(graph.to_dot())
    except SparkfsError as exc:
        log.warning("lineage of %s not drawn: %s", what, exc)
        return LineagePicture(None, str(exc), len(graph.nodes), len(graph.edges))
    return LineagePicture(svg, f"{len(graph.nodes)} nodes, {len(graph.edges)} edges",
                          len(graph.nodes), len(graph.edges))


def view_picture(workspace: Workspace, name: str) -> tuple[LineageGraph, LineagePicture]:
    """The up- and downstream lineage of one feature view, and its picture."""
    try:
        graph = lineage(workspace, name, direction="both")
    except SparkfsError as exc:
        return LineageGraph.build([], []), LineagePicture(None, f"no lineage: {exc}")
    return graph, _draw(graph, name)


def full_picture(workspace: Workspace) -> tuple[LineageGraph, LineagePicture]:
    """The whole lineage graph of the workspace, and its picture."""
    graph = full_graph(workspace)
    return graph, _draw(graph, f"project {workspace.config.project}")


def feature_lineage(workspace: Workspace, graph: LineageGraph,
                    training_sets: Iterable[TrainingSetRecord],
                    view: str | None = None) -> list[FeatureLineage]:
    """Column lineage of every feature of the repository's views: the one the latest
    materialization recorded (on the graph's feature nodes), else the declared one; of the
    feature view ``view`` only when given."""
    readers: dict[str, list[tuple[str, str | None]]] = {}
    for record in training_sets:
        for ref in record.features:
            readers.setdefault(ref, []).append((record.id, record.feature_service))
    nodes = {n.name: n for n in graph.nodes if n.kind == "feature"}
    out = []
    repo = workspace.repository
    for name in sorted(repo.feature_views):
        if view is not None and name != view:
            continue
        declared = {c.feature: c for c in column_lineage(repo.feature_views[name], repo)}
        for feature, item in declared.items():
            ref = f"{name}:{feature}"
            attrs = nodes[ref].attrs if ref in nodes else {}
            if "how" in attrs:
                sources = tuple((str(s[0]), str(s[1])) for s in attrs.get("derived_from", []))
                out.append(FeatureLineage(ref, str(attrs["how"]), sources, str(attrs.get("detail", "")),
                                          True, tuple(readers.get(ref, []))))
            else:
                out.append(FeatureLineage(ref, item.how, item.sources, item.detail, False,
                                          tuple(readers.get(ref, []))))
    return out
