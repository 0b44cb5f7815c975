"""The lineage graph of one definition as a picture (issue 18's graph, drawn by Graphviz)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sparkfs.errors import SparkfsError
from sparkfs.portal.graphs import dot_to_svg

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["lineage_svg"]

log = logging.getLogger(__name__)


def lineage_svg(workspace: Workspace, name: str, depth: int | None = None) -> tuple[str | None, str]:
    """(SVG of the up- and downstream lineage of ``name``, or None; a note for the page).

    The note says why there is no picture (nothing recorded yet, Graphviz missing) or what
    the picture shows.
    """
    try:
        from sparkfs.lineage.query import lineage
    except ImportError:
        return None, "lineage is not recorded by this version of sparkfs"
    try:
        graph = lineage(workspace, name, direction="both", depth=depth)
    except SparkfsError as exc:
        return None, f"no lineage: {exc}"
    if not graph.nodes:
        return None, f"no lineage recorded for {name} yet; run `sparkfs materialize {name}`"
    try:
        return dot_to_svg(graph.to_dot()), (f"{len(graph.nodes)} nodes, {len(graph.edges)} edges "
                                            "(up- and downstream)")
    except SparkfsError as exc:
        log.warning("lineage of %s not drawn: %s", name, exc)
        return None, str(exc)
