"""The lineage graph: immutable nodes and edges, sub-graphs up- and downstream, JSON and DOT.

A graph is a value: queries (:mod:`sparkfs.lineage.query`) build one from the registry and
every method returns a new one. Node ids are stable strings that say what a node is, e.g.
``feature_view:user_txn_aggs``, ``offline_table:/data/offline/user_txn_aggs@3`` or
``run:5f2c...``, so two queries of one registry agree on them (the catalog links by id).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["NODE_KINDS", "LineageEdge", "LineageGraph", "LineageNode", "NodeKind"]

NodeKind = Literal[
    "source", "feature_view", "feature", "feature_service", "training_set", "online_generation",
    "offline_table", "run",
]
NODE_KINDS: tuple[NodeKind, ...] = (
    "source", "feature_view", "feature", "feature_service", "training_set", "online_generation",
    "offline_table", "run",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LineageNode:
    """One thing lineage knows about.

    ``version`` is the definition version (views, features, services), the Delta version
    (offline tables, a Delta source as last read), the generation (online generations) or
    ``None``. ``attrs`` holds JSON-able details (owner, path, format, a run's code identity...).
    """

    id: str
    kind: NodeKind
    name: str
    version: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "version": self.version,
                "attrs": _plain(self.attrs)}


@dataclass(frozen=True)
class LineageEdge:
    """``src`` flows into ``dst``. ``kind`` says how (``feeds``, ``defines``, ``member_of``,
    ``ran``, ``read``, ``wrote``, ``next_version``); ``run_id`` names the run that made the
    edge, ``None`` for edges that come from the definitions themselves."""

    src: str
    dst: str
    kind: str
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "kind": self.kind, "run_id": self.run_id}


@dataclass(frozen=True)
class LineageGraph:
    """Nodes and the edges between them (every edge's ends are nodes of the graph)."""

    nodes: tuple[LineageNode, ...] = ()
    edges: tuple[LineageEdge, ...] = ()

    @classmethod
    def build(cls, nodes: Iterable[LineageNode], edges: Iterable[LineageEdge]) -> LineageGraph:
        """A graph from possibly repeated nodes and edges: the last node of an id wins, edges
        are deduplicated and those whose ends are unknown are dropped; order is stable."""
        by_id: dict[str, LineageNode] = {}
        for node in nodes:
            by_id[node.id] = node
        unique = dict.fromkeys(e for e in edges if e.src in by_id and e.dst in by_id)
        return cls(tuple(by_id.values()), tuple(unique))

    def node(self, node_id: str) -> LineageNode:
        """The node ``node_id``; a KeyError names it when the graph has no such node."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def ids(self, kind: NodeKind | None = None) -> set[str]:
        return {n.id for n in self.nodes if kind is None or n.kind == kind}

    def upstream(self, node_id: str, depth: int | None = None) -> LineageGraph:
        """What ``node_id`` derives from: the node and everything reachable against the
        edges, within ``depth`` hops (``None``: all)."""
        return self._reach(node_id, depth, forward=False)

    def downstream(self, node_id: str, depth: int | None = None) -> LineageGraph:
        """What derives from ``node_id`` (impact analysis): reachable along the edges."""
        return self._reach(node_id, depth, forward=True)

    def union(self, other: LineageGraph) -> LineageGraph:
        return LineageGraph.build((*self.nodes, *other.nodes), (*self.edges, *other.edges))

    def _reach(self, node_id: str, depth: int | None, *, forward: bool) -> LineageGraph:
        self.node(node_id)
        step: dict[str, list[LineageEdge]] = {}
        for edge in self.edges:
            step.setdefault(edge.src if forward else edge.dst, []).append(edge)
        seen, kept = {node_id: 0}, []
        queue = deque([node_id])
        while queue:
            current = queue.popleft()
            if depth is not None and seen[current] >= depth:
                continue
            for edge in step.get(current, []):
                nxt = edge.dst if forward else edge.src
                kept.append(edge)
                if nxt not in seen:
                    seen[nxt] = seen[current] + 1
                    queue.append(nxt)
        return LineageGraph.build((n for n in self.nodes if n.id in seen), kept)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"nodes": [...], "edges": [...]}``."""
        return {"nodes": [n.to_dict() for n in self.nodes], "edges": [e.to_dict() for e in self.edges]}

    def to_dot(self) -> str:
        """Graphviz DOT text, one shape per node kind, left to right."""
        lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
        for node in self.nodes:
            label = f"{node.name}\\n{node.kind}" + ("" if node.version is None else f" {node.version}")
            shape, style = _SHAPES[node.kind]
            lines.append(f"  {_quote(node.id)} [label={_quote(label, escaped=True)}, shape={shape}, style={style}];")
        for edge in self.edges:
            lines.append(f"  {_quote(edge.src)} -> {_quote(edge.dst)} [label={_quote(edge.kind)}];")
        lines.append("}")
        return "\n".join(lines) + "\n"


_SHAPES: dict[str, tuple[str, str]] = {
    "source": ("cylinder", "solid"),
    "feature_view": ("box", "rounded"),
    "feature": ("ellipse", "solid"),
    "feature_service": ("box", "bold"),
    "training_set": ("folder", "solid"),
    "online_generation": ("box3d", "solid"),
    "offline_table": ("cylinder", "dashed"),
    "run": ("cds", "solid"),
}


def _quote(text: str, *, escaped: bool = False) -> str:
    """A DOT string literal; ``escaped`` keeps ``\\n`` line breaks already in ``text``."""
    body = text.replace('"', '\\"') if escaped else text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{body}"'


def _plain(value: Any) -> Any:
    """Mappings (e.g. read-only proxies) as dicts and tuples as lists, so json.dumps takes them."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
