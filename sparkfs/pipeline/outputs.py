"""Where a command may write: never over what it did not create, never into the store.

Every writer that takes a path from its user (a training set's ``--out``, a reproduction's
``--out``, ``demo generate --out``) asks :func:`check_output` before it computes anything:

* a path that overlaps a **protected location** (the offline root, the sandbox root, the
  registry file, the config file, the feature directory, a feature view's source, the spine
  being read) is refused, with or without ``overwrite``: writing there would destroy production data
  or the input of the very job;
* a path that **exists** (a file, or a directory that is not empty) and is not the writer's own
  earlier output of the same kind is refused unless ``overwrite`` is given; the message says
  what is there and what to do.

Paths are compared after normalisation (a local path is made absolute with symbolic links
resolved; a URI loses its trailing slashes), and "overlaps" means equal, inside, or containing:
overwriting a directory that holds the offline root deletes the offline root too. Existence is
asked through the session's Hadoop file system, so any Hadoop-compatible URI is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkfs.errors import ValidationError
from sparkfs.registry.outputs import normalize_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig
    from sparkfs.definitions.loader import Repository

__all__ = ["Protected", "check_output", "describe_path", "list_entries", "normalize_path",
           "protected_locations"]


@dataclass(frozen=True)
class Protected:
    """A location no command may write into: what it is (for the message) and where."""

    what: str
    path: str


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def protected_locations(config: SparkfsConfig, repository: Repository | None = None,
                        *, sources: bool = True, reading: Iterable[str] = ()) -> list[Protected]:
    """The store's own locations, the views' sources (``sources``) and what a job reads."""
    from sparkfs.offline.source import resolve_source_path

    found = [Protected("the offline store root (offline.root)", config.offline.root),
             Protected("the sandbox root (offline.sandbox_root)", config.offline.sandbox_root),
             Protected("the feature repository (features_dir)", config.features_dir)]
    if config.config_path:
        found.append(Protected("the config file", config.config_path))
    url = config.registry.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        found.append(Protected("the registry database", url[len("sqlite:///"):]))
    if sources and repository is not None:
        for name, view in sorted(repository.feature_views.items()):
            path = getattr(view.source, "path", None)
            if path:
                found.append(Protected(f"the source of feature view {name!r}",
                                       resolve_source_path(path, config.data_dir)))
    found += [Protected("the spine being read", path) for path in reading]
    return found


def list_entries(spark: SparkSession, path: str) -> list[str] | None:
    """The names in the directory at ``path``; ``[""]`` for a file, None when nothing is there."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        return None
    if fs.getFileStatus(hadoop_path).isFile():
        return [""]
    return sorted(str(s.getPath().getName()) for s in fs.listStatus(hadoop_path))


def describe_path(entries: list[str]) -> str:
    """What :func:`list_entries` found, in words."""
    if entries == [""]:
        return "a file"
    if "_delta_log" in entries:
        return f"a Delta table ({len(entries)} entries, _delta_log included)"
    if not entries:
        return "an empty directory"
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    return f"a directory with {len(entries)} entries ({shown})"


def check_output(spark: SparkSession, out: str, *, what: str, protected: Iterable[Protected],
                 own: bool, overwrite: bool, option: str = "--out") -> None:
    """Refuse ``out`` unless it is safe to (over)write; see the module docstring.

    Args:
        what: the kind of output, for the message ("training set", "demo data").
        own: ``out`` holds this writer's own earlier output of the same kind.
        overwrite: the user said ``--overwrite``.

    Raises:
        ValidationError: naming the path, what is there and what to do.
    """
    target = normalize_path(out)
    for place in protected:
        if _overlaps(target, normalize_path(place.path)):
            raise ValidationError(
                f"{option} {out}: refusing to write the {what} there: it overlaps {place.what} "
                f"({place.path}), which this command must not overwrite (not even with "
                "--overwrite); choose a path outside the feature store's directories")
    if own or overwrite:
        return
    entries = list_entries(spark, out)
    if not entries:  # nothing there, or an empty directory: nothing to lose
        return
    raise ValidationError(
        f"{option} {out}: {describe_path(entries)} is already there and it is not a {what} "
        f"sparkfs wrote; choose a new path, or pass --overwrite to replace it (its contents "
        "are deleted)")
