"""The package's layers (docs/architecture.md): imports only point down, and nothing cycles.

Every ``import`` of a sparkfs module counts, including the ones inside functions (a lazy import
is still a dependency); only ``if TYPE_CHECKING:`` blocks are left out (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sparkfs"

#: Lower layers first; a module may import its own layer and any lower one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("sparkfs.errors", "sparkfs.durations", "sparkfs.control_chars", "sparkfs.clock",
              "sparkfs.echo", "sparkfs.config", "sparkfs.spark_conf", "sparkfs.jars", "sparkfs.session",
              "sparkfs.delta_log", "sparkfs.spark_errors", "sparkfs.definitions", "sparkfs.model_inputs")),
    ("engines", ("sparkfs.offline", "sparkfs.training", "sparkfs.online", "sparkfs.quality")),
    ("registry", ("sparkfs.registry", "sparkfs.governance")),
    ("pipeline", ("sparkfs.pipeline",)),
    ("interfaces", ("sparkfs.store", "sparkfs.client", "sparkfs.serving", "sparkfs.scheduling", "sparkfs.demo", "sparkfs.cli")),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    if module == "sparkfs":
        return len(LAYERS)  # the package's __init__ re-exports the interfaces lazily
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it where it belongs")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sparkfs"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sparkfs"):
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(ast.parse(p.read_text()), _module_name(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


def test_imports_only_point_down() -> None:
    upward = [f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
              for module, targets in _graph().items() if module != "sparkfs"
              for target in targets if _layer(target) > _layer(module)]
    assert not upward, "\n".join(upward)


def test_library_code_never_imports_the_cli() -> None:
    offenders = [m for m, targets in _graph().items()
                 if not m.startswith("sparkfs.cli") and any(t.startswith("sparkfs.cli") for t in targets)]
    assert not offenders


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    # an import of a package is an import of its __init__; resolve names to known modules
    edges = {m: {t for t in targets if t in graph} for m, targets in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*visiting[visiting.index(node):], node])
            return
        visiting.append(node)
        for target in sorted(edges[node]):
            # a package importing its own submodules (re-exports) is how packages are built
            if not target.startswith(node + "."):
                walk(target)
        visiting.pop()
        done.add(node)

    for module in sorted(edges):
        walk(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("engine", ["offline", "training", "online", "quality"])
def test_engines_know_nothing_of_the_registry_workspace_or_cli(engine: str) -> None:
    bad = {f"{m} imports {t}" for m, targets in _graph().items() if m.startswith(f"sparkfs.{engine}")
           for t in targets if t.startswith(("sparkfs.registry", "sparkfs.pipeline", "sparkfs.cli",
                                             "sparkfs.serving", "sparkfs.governance"))}
    assert not bad, sorted(bad)
