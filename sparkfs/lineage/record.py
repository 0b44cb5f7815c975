"""What one run read and wrote, as the pipeline layer collects it while the run goes.

A job fills a :class:`RunLineage` (on its run handle) with :class:`DatasetRef` inputs and
outputs, the definition versions it used and details such as the column lineage or the
quality gate's result; when the run ends the recorder stores it (:mod:`sparkfs.lineage.store`)
and exports it (:mod:`sparkfs.lineage.openlineage`). Nothing here touches Spark.
"""

from __future__ import annotations

import hashlib
import inspect
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DatasetKind",
    "DatasetRef",
    "RunLineage",
    "code_identity",
    "generation_name",
    "repository_commit",
    "sparkfs_version",
]

DatasetKind = Literal["source", "offline_table", "online_generation", "training_set"]


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a run read or wrote.

    ``name`` is a source's resolved path (``table:db.t`` for a metastore table), an offline
    table's path, ``namespace/view`` for an online generation or a training set's id;
    ``version`` the Delta version or generation (as text), ``None`` when the data has none;
    ``facets`` JSON-able details (format, files with sizes and modification times, schema, path).
    """

    kind: DatasetKind
    name: str
    version: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunLineage:
    """The lineage a job collects on its run handle; see the module docstring.

    ``definitions`` maps ``kind:name`` (``feature_view:user_profile``) to the version used;
    ``details`` holds per-job facts: ``columns`` (column lineage), ``quality``, ``window``,
    ``rows``, ``features`` (of a training set) and so on.
    """

    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def read(self, dataset: DatasetRef) -> None:
        if dataset not in self.inputs:
            self.inputs.append(dataset)

    def wrote(self, dataset: DatasetRef) -> None:
        if dataset not in self.outputs:
            self.outputs.append(dataset)

    def uses(self, kind: str, name: str, version: str) -> None:
        self.definitions[f"{kind}:{name}"] = version


def generation_name(namespace: str, view: str) -> str:
    """The dataset name of a view's keys in one Redis key namespace."""
    return f"{namespace}/{view}"


def sparkfs_version() -> str:
    """The running sparkfs's version: the package's own ``__version__`` (a metadata lookup
    scans every installed distribution, up to 0.4 s of a run). The package is loaded whenever
    one of its modules is; it is read from ``sys.modules`` because the root package sits above
    every layer (tests/test_layers.py)."""
    package = sys.modules.get("sparkfs")
    return str(getattr(package, "__version__", "unknown"))


def repository_commit(features_dir: str) -> dict[str, Any] | None:
    """The git commit of the feature repository and whether its files differ from it, or
    ``None`` when the directory is not in a git checkout (or git is not installed)."""
    try:
        head = subprocess.run(["git", "-C", features_dir, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", features_dir, "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def transformation_identity(transformation: Any) -> dict[str, Any] | None:
    """``{"type", "sha256", ...}`` of a view's transformation: the hash of the SQL text, or of
    the Python function's source (of its module's file when the source cannot be had)."""
    if transformation is None:
        return None
    if transformation.type == "sql":
        return {"type": "sql", "sha256": _sha256(transformation.query), "query": transformation.query}
    module_name, _, attr = transformation.function.partition(":")
    identity: dict[str, Any] = {"type": "python", "function": transformation.function}
    try:
        module = import_module(module_name)
        fn = getattr(module, attr)
        identity["sha256"] = _sha256(inspect.getsource(fn))
        identity["hashed"] = "function source"
    except (ImportError, AttributeError, OSError, TypeError) as exc:
        file = getattr(locals().get("module"), "__file__", None)
        if file and Path(file).is_file():
            identity["sha256"] = _sha256(Path(file).read_text(encoding="utf-8", errors="replace"))
            identity["hashed"] = "module file"
        else:
            identity["sha256"] = None
            identity["hashed"] = f"unavailable: {type(exc).__name__}: {exc}"
    return identity


def code_identity(features_dir: str, transformation: Any = None) -> dict[str, Any]:
    """The code a run executed: sparkfs's version, the transformation's hash, the repository's
    git commit (``None`` outside a git checkout)."""
    return {
        "sparkfs_version": sparkfs_version(),
        "transformation": transformation_identity(transformation),
        "repository": repository_commit(features_dir),
    }
