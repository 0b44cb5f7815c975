"""Is a Delta table version still readable? Answered from the table's log, without Spark.

A training set is reproducible only while every Delta version it read can be read again: the
log must still reconstruct the snapshot (the commits since the newest checkpoint at or before
it were not cleaned up) and every data file of that snapshot must still exist (``VACUUM``
deletes the files that no version younger than the retention references). This replays the
log the way Delta does (checkpoint, then commits) and checks each file. Local tables only
(``file:`` URIs or plain paths); for other file systems the answer is "cannot tell".
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["VersionCheck", "check_version"]

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.\d{10}\.\d{10})?\.parquet$")


@dataclass(frozen=True)
class VersionCheck:
    """``readable`` is True, False, or None when it cannot be told (non-local storage)."""

    readable: bool | None
    reason: str
    files: int = 0


def _local(path: str) -> Path | None:
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else path)
    return None


def _checkpoint_files(log: Path, version: int) -> list[Path]:
    return sorted(p for p in log.iterdir()
                  if (m := _CHECKPOINT.match(p.name)) and int(m.group(1)) == version)


def _read_checkpoint(parts: list[Path]) -> set[str]:
    import pyarrow.parquet as pq

    live: set[str] = set()
    for part in parts:
        table = pq.read_table(part, columns=["add"])
        for add in table.column("add").to_pylist():
            if add and add.get("path"):
                live.add(add["path"])
    return live


def check_version(table_path: str, version: int) -> VersionCheck:
    """Whether ``version`` of the Delta table at ``table_path`` can still be read, and why not."""
    root = _local(table_path)
    if root is None:
        return VersionCheck(None, f"{table_path} is not on the local file system; sparkfs checks "
                                  "local tables only (read the version with Spark to be sure)")
    log = root / "_delta_log"
    if not log.is_dir():
        return VersionCheck(False, f"{table_path} is no longer a Delta table (no _delta_log)")
    commits = {int(m.group(1)) for p in log.iterdir() if (m := _COMMIT.match(p.name))}
    if commits and version > max(commits):
        return VersionCheck(False, f"version {version} of {table_path} was never committed "
                                   f"(the newest is {max(commits)})")
    checkpoints = sorted({int(m.group(1)) for p in log.iterdir()
                          if (m := _CHECKPOINT.match(p.name)) and int(m.group(1)) <= version})
    start = checkpoints[-1] if checkpoints else -1
    missing = [v for v in range(start + 1, version + 1) if v not in commits]
    if missing:
        return VersionCheck(False, f"the log of {table_path} no longer holds commit {missing[0]}, "
                                   f"needed to read version {version} (log cleanup)")
    live = _read_checkpoint(_checkpoint_files(log, start)) if start >= 0 else set()
    for v in range(start + 1, version + 1):
        with open(log / f"{v:020d}.json", encoding="utf-8") as handle:
            for line in handle:
                action = json.loads(line) if line.strip() else {}
                if "add" in action:
                    live.add(action["add"]["path"])
                elif "remove" in action:
                    live.discard(action["remove"]["path"])
    for rel in sorted(live):
        local = _local(unquote(rel)) if "://" in rel else root / unquote(rel)
        if local is not None and not os.path.exists(local):
            return VersionCheck(False, f"data file {rel} of version {version} of {table_path} is "
                                       "gone (vacuumed)", len(live))
    return VersionCheck(True, f"version {version}: log and all {len(live)} data files present",
                        len(live))
