"""Feast's own client in a virtualenv of its own, for the Feast compatibility tests.

Feast pins pandas, pyarrow, protobuf, FastAPI ... at versions that clash with sparkfs's, so it
never enters the test environment. It lives under
``~/.cache/sparkfs/feast-venv/<version>-<hash of the requirements>`` (tests/pinned_venv.py:
built once from PyPI with the pins of ``serving/feast_client/requirements.txt``, about 30-60 s,
then reused).

``python -m tests.feast_client_env`` builds it ahead of time and prints its python.
"""

from __future__ import annotations

from pathlib import Path

from tests.pinned_venv import PinnedVenv

__all__ = ["FEAST_VERSION", "feast_python"]

FEAST_VERSION = "0.67.0"
CLIENT_DIR = Path(__file__).resolve().parent / "serving" / "feast_client"
REQUIREMENTS = CLIENT_DIR / "requirements.txt"

FEAST_VENV = PinnedVenv(
    name="feast-venv", version=FEAST_VERSION, requirements=REQUIREMENTS,
    probe=f"import feast; assert feast.__version__ == {FEAST_VERSION!r}",
)


def venv_dir() -> Path:
    return FEAST_VENV.root


def feast_python() -> Path:
    """The python of a virtualenv holding exactly Feast's pinned client; built if missing."""
    return FEAST_VENV.python()


if __name__ == "__main__":
    print(feast_python())
