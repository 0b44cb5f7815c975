"""Graphs as SVG pictures, drawn by Graphviz (``dot -Tsvg``) from DOT text."""

from __future__ import annotations

import re
import shutil
import subprocess

from sparkfs.errors import SparkfsError

__all__ = ["GraphvizMissingError", "dot_to_svg"]

_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


class GraphvizMissingError(SparkfsError):
    """Graphviz's ``dot`` is not installed, so a graph cannot be drawn."""


def dot_to_svg(dot: str, timeout_s: float = 30.0) -> str:
    """The SVG element Graphviz draws for ``dot`` (without the XML prolog, ready to inline).

    Raises:
        GraphvizMissingError: ``dot`` is not on the PATH.
        SparkfsError: Graphviz rejected the graph.
    """
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissingError("Graphviz's `dot` is not installed, so the lineage graph cannot "
                                   "be drawn; install it with `apt-get install graphviz` "
                                   "(scripts/setup.sh does)")
    done = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise SparkfsError(f"Graphviz could not draw the graph: {done.stderr.strip()[:500]}; "
                           "this is a bug in the DOT sparkfs wrote, please report it")
    return _PROLOG.sub("", done.stdout, count=1)
