"""``sparkfs serve`` in a subprocess on a free port, for tests over real HTTP and the browser."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["serve"]


@contextlib.contextmanager
def serve(config_path: str | Path, cwd: Path) -> Iterator[str]:
    """Run ``sparkfs serve`` (one worker); yields its base URL once /healthz answers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SPARKFS_USER": "tester"}
    env.pop("SPARKFS_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkfs.cli", "--config", str(config_path), "serve", "--port",
         str(port), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"sparkfs serve did not start: {out[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
