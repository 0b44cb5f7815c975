"""Feast's own client in a virtualenv of its own, for the Feast compatibility tests.

Feast pins pandas, pyarrow, protobuf, FastAPI ... at versions that clash with sparkfs's, so it
never enters the test environment. It lives under
``~/.cache/sparkfs/feast-venv/<version>-<hash of the requirements>`` (``$SPARKFS_CACHE``
replaces ``~/.cache/sparkfs``), created on first use from PyPI and reused after. The
requirements file pins Feast and every package it needs (a ``pip freeze`` of a working
install) and is installed with ``--no-deps``: the same packages on every machine, no resolver
run, about 30-60 s once. A half-built environment (a crash, a timeout) has no completion stamp
and is built again; concurrent test processes wait on a file lock.

``python -m tests.feast_client_env`` builds it ahead of time and prints its python.
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
from pathlib import Path

__all__ = ["FEAST_VERSION", "feast_python"]

FEAST_VERSION = "0.67.0"
CLIENT_DIR = Path(__file__).resolve().parent / "serving" / "feast_client"
REQUIREMENTS = CLIENT_DIR / "requirements.txt"
#: Bounds of one install attempt and of the whole build (two attempts).
INSTALL_TIMEOUT_S = 180
ATTEMPTS = 2


def venv_dir() -> Path:
    cache = Path(os.environ.get("SPARKFS_CACHE") or Path.home() / ".cache" / "sparkfs")
    key = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache / "feast-venv" / f"{FEAST_VERSION}-{key}"


def feast_python() -> Path:
    """The python of a virtualenv holding exactly Feast's pinned client; built if missing.

    Raises:
        RuntimeError: the environment could not be built (the message holds pip's output).
    """
    root = venv_dir()
    python = root / "bin" / "python"
    stamp = root / ".complete"
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f"{root.name}.lock"):
        if stamp.exists() and _feast_imports(python):
            return python
        failures = []
        for _ in range(ATTEMPTS):
            shutil.rmtree(root, ignore_errors=True)
            started = time.monotonic()
            try:
                _build(root, python)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                output = getattr(exc, "stderr", None) or getattr(exc, "output", None) or ""
                failures.append(f"{exc}\n{output if isinstance(output, str) else output.decode()}")
                continue
            if _feast_imports(python):
                stamp.write_text(f"built in {time.monotonic() - started:.0f}s\n")
                return python
            failures.append("feast did not import after the install")
        shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not build Feast's client virtualenv in {root} from "
                       f"{REQUIREMENTS}:\n" + "\n---\n".join(failures)[-4000:])


def _build(root: Path, python: Path) -> None:
    _run(sys.executable, "-m", "venv", str(root))
    _run(str(python), "-m", "pip", "install", "--no-deps", "--no-input",
         "--disable-pip-version-check", "-q", "-r", str(REQUIREMENTS))
    _run(str(python), "-m", "pip", "check")  # the pins are complete and consistent


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)


def _feast_imports(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", f"import feast; assert feast.__version__ == {FEAST_VERSION!r}"],
        capture_output=True, timeout=120)
    return probe.returncode == 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if __name__ == "__main__":
    print(feast_python())
