"""Lineage: what every run read and wrote, per-feature column lineage, queries, OpenLineage.

* :mod:`sparkfs.lineage.graph`: the graph value (nodes, edges, up/downstream, JSON, DOT).
* :mod:`sparkfs.lineage.query`: :func:`lineage` builds it from a workspace's registry.
* :mod:`sparkfs.lineage.columns`: :func:`column_lineage` of a feature view's features.
* :mod:`sparkfs.lineage.record` / :mod:`sparkfs.lineage.store`: what a run collects, and the
  append-only registry tables it is stored in.
* :mod:`sparkfs.lineage.openlineage`: START/COMPLETE/FAIL events through openlineage-python.
"""

from __future__ import annotations

from sparkfs.lineage.columns import ColumnLineage, column_lineage
from sparkfs.lineage.graph import LineageEdge, LineageGraph, LineageNode
from sparkfs.lineage.query import lineage
from sparkfs.lineage.record import DatasetRef, RunLineage

__all__ = [
    "ColumnLineage",
    "DatasetRef",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "RunLineage",
    "column_lineage",
    "lineage",
]
