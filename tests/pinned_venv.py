"""Virtualenvs of exactly pinned packages, for tools whose pins clash with sparkfs's (Feast's
client, Airflow).

One lives under ``~/.cache/sparkfs/<name>/<version>-<hash of the requirements>``
(``$SPARKFS_CACHE`` replaces ``~/.cache/sparkfs``), created on first use from PyPI and reused
after. The requirements file pins the tool and every package it needs (a ``pip freeze`` of a
working install) and is installed with ``--no-deps``: the same packages on every machine, no
resolver run. A half-built environment (a crash, a timeout) has no completion stamp and is
built again; concurrent test processes wait on a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PinnedVenv"]


@dataclass(frozen=True)
class PinnedVenv:
    """``name`` and ``version`` name the directory; ``probe`` is Python code that exits 0 only
    when the tool imports at the expected version."""

    name: str
    version: str
    requirements: Path
    probe: str
    #: Bounds of one install attempt; the whole build makes at most ``attempts``.
    install_timeout_s: float = 180
    attempts: int = 2

    @property
    def root(self) -> Path:
        cache = Path(os.environ.get("SPARKFS_CACHE") or Path.home() / ".cache" / "sparkfs")
        key = hashlib.sha256(self.requirements.read_bytes()).hexdigest()[:12]
        return cache / self.name / f"{self.version}-{key}"

    def python(self) -> Path:
        """The environment's python; built if missing.

        Raises:
            RuntimeError: the environment could not be built (the message holds pip's output).
        """
        root = self.root
        python = root / "bin" / "python"
        stamp = root / ".complete"
        root.parent.mkdir(parents=True, exist_ok=True)
        with _locked(root.parent / f"{root.name}.lock"):
            if stamp.exists() and self._imports(python):
                return python
            failures = []
            for _ in range(self.attempts):
                shutil.rmtree(root, ignore_errors=True)
                started = time.monotonic()
                try:
                    self._build(root, python)
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                    output = getattr(exc, "stderr", None) or getattr(exc, "output", None) or ""
                    failures.append(f"{exc}\n{output if isinstance(output, str) else output.decode()}")
                    continue
                if self._imports(python):
                    stamp.write_text(f"built in {time.monotonic() - started:.0f}s\n")
                    return python
                failures.append(f"{self.name} did not import after the install")
            shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not build the {self.name} virtualenv in {root} from "
                           f"{self.requirements}:\n" + "\n---\n".join(failures)[-4000:])

    def _build(self, root: Path, python: Path) -> None:
        self._run(sys.executable, "-m", "venv", str(root))
        self._run(str(python), "-m", "pip", "install", "--no-deps", "--no-input",
                  "--disable-pip-version-check", "-q", "-r", str(self.requirements))
        self._run(str(python), "-m", "pip", "check")  # the pins are complete and consistent

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, text=True, timeout=self.install_timeout_s)

    def _imports(self, python: Path) -> bool:
        if not python.exists():
            return False
        probe = subprocess.run([str(python), "-c", self.probe], capture_output=True, timeout=120)
        return probe.returncode == 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
