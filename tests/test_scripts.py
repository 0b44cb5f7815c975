"""The README's scripts: the quickstart's private redis-server never outlives the run."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO_ROOT

SCRIPT = str(REPO_ROOT / "scripts" / "with-redis.sh")
PROBE = ('redis-cli -u "$SPARKFS_REDIS_URL" info server | grep -E "^process_id:|^tcp_port:"; '
         'redis-cli -u "$SPARKFS_REDIS_URL" config get dir | tail -1')


def _server(stdout: str) -> tuple[int, int, Path]:
    pid = int(re.search(r"process_id:(\d+)", stdout).group(1))  # type: ignore[union-attr]
    port = int(re.search(r"tcp_port:(\d+)", stdout).group(1))  # type: ignore[union-attr]
    directory = Path(stdout.strip().splitlines()[-1])
    return pid, port, directory


def _gone(pid: int, port: int, directory: Path) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "the private redis-server survived"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert not directory.exists()


def test_the_private_redis_server_stops_with_the_command_and_keeps_its_exit_code() -> None:
    ok = subprocess.run(["bash", SCRIPT, "bash", "-c", PROBE], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    _gone(*_server(ok.stdout))
    failed = subprocess.run(["bash", SCRIPT, "bash", "-c", PROBE + "; exit 3"],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 3
    _gone(*_server(failed.stdout))


def test_an_interrupted_run_stops_its_redis_server_too() -> None:
    proc = subprocess.Popen(["bash", SCRIPT, "bash", "-c", PROBE + "; sleep 60"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    os.killpg(proc.pid, signal.SIGTERM)  # what a CI runner or Ctrl-C's group signal does
    assert proc.wait(timeout=30) != 0
    _gone(*_server("".join(lines)))
