"""``sparkfs lineage NAME``: what a source, view, feature, service, training set or run feeds
and is fed by (docs/lineage.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sparkfs.cli.context import CliContext
from sparkfs.cli.output import echo_json
from sparkfs.control_chars import escape_control

if TYPE_CHECKING:
    from sparkfs.lineage.graph import LineageGraph, LineageNode
    from sparkfs.lineage.query import Direction

__all__ = ["lineage_cmd", "render_text"]


@click.command("lineage")
@click.argument("name")
@click.option("--upstream", "direction", flag_value="upstream", help="Only what NAME derives from.")
@click.option("--downstream", "direction", flag_value="downstream",
              help="Only what NAME reached (impact analysis: views, services, training sets, online generations).")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="At most this many edges away (default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text", show_default=True,
              help="text (a tree), json (nodes and edges), dot (Graphviz: pipe into `dot -Tsvg`).")
@click.option("--sandbox", is_flag=True, help="The sandbox namespace's runs instead of production's.")
@click.pass_obj
def lineage_cmd(state: CliContext, name: str, direction: str | None, depth: int | None, fmt: str,
                sandbox: bool) -> None:
    """Lineage of NAME: a source path, a feature view, VIEW:FEATURE, a feature service, a
    training set id or a run id, with versions. Both directions unless told otherwise."""
    from sparkfs.lineage.query import full_graph, resolve_node

    workspace = state.workspace(sandbox=sandbox)
    workspace.runs.reap_stale()
    chosen: Direction = "both" if direction is None else "upstream" if direction == "upstream" else "downstream"
    graph = full_graph(workspace)
    root = resolve_node(graph, workspace, name)
    up = graph.upstream(root, depth) if chosen in ("upstream", "both") else None
    down = graph.downstream(root, depth) if chosen in ("downstream", "both") else None
    result = up.union(down) if up is not None and down is not None else up or down
    assert result is not None
    if fmt == "json":
        echo_json({"root": root, "direction": chosen, "depth": depth, **result.to_dict()})
    elif fmt == "dot":
        click.echo(result.to_dot(), nl=False)
    else:
        click.echo(render_text(root, up, down))


def _label(node: LineageNode) -> str:
    text = f"{node.kind} {node.name}"
    if node.kind == "run":
        attrs = node.attrs
        text += f" [{node.id.removeprefix('run:')[:12]} {attrs.get('status')} {str(attrs.get('ended_at', ''))[:19]}]"
    if node.version is not None:
        text += f" (version {node.version})"
    if node.kind == "feature" and "how" in node.attrs:
        text += f" <- {node.attrs['how']}: {node.attrs.get('detail', '')}"
    return escape_control(text)


def render_text(root: str, up: LineageGraph | None, down: LineageGraph | None) -> str:
    """A tree per direction from ``root``; a node met again says so instead of repeating."""
    graph = up if up is not None else down
    assert graph is not None
    lines = [_label(graph.node(root))]
    for title, sub, forward in (("upstream", up, False), ("downstream", down, True)):
        if sub is None:
            continue
        lines.append(f"{title}:")
        step: dict[str, list[tuple[str, str]]] = {}
        for edge in sub.edges:
            key, other = (edge.src, edge.dst) if forward else (edge.dst, edge.src)
            step.setdefault(key, []).append((edge.kind, other))
        nodes = {n.id: n for n in sub.nodes}
        seen = {root}
        arrow = "->" if forward else "<-"

        def visit(node_id: str, indent: int, lines: list[str] = lines, step: dict[str, list[tuple[str, str]]] = step,
                  nodes: dict[str, LineageNode] = nodes, seen: set[str] = seen, arrow: str = arrow) -> None:
            for kind, other in step.get(node_id, []):
                again = other in seen
                lines.append(f"{'  ' * indent}{arrow} {kind}  {_label(nodes[other])}{'  (see above)' if again else ''}")
                if not again:
                    seen.add(other)
                    visit(other, indent + 1)

        visit(root, 1)
        if len(lines) and lines[-1] == f"{title}:":
            lines.append("  (nothing)")
    return "\n".join(lines)
