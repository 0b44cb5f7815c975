"""A real 3-master Redis Cluster on free loopback ports, for tests and benchmarks."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

__all__ = ["RedisClusterProcess", "free_cluster_port"]


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port(taken: set[int]) -> int:
    """A free port whose cluster bus port (port + 10000) is free and below 65536 too."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20000, 30000)
        if port not in taken and _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisClusterProcess:
    """Start ``masters`` cluster-enabled redis-servers and join them with ``redis-cli``."""

    def __init__(self, masters: int = 3) -> None:
        for tool in ("redis-server", "redis-cli"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed; run scripts/setup.sh")
        self.ports: list[int] = []
        for _ in range(masters):
            self.ports.append(free_cluster_port(set(self.ports)))
        self.dir = Path(tempfile.mkdtemp(prefix="sparkfs-cluster-"))
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.ports]

    def start(self) -> RedisClusterProcess:
        for port in self.ports:
            node_dir = self.dir / str(port)
            node_dir.mkdir()
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                 "--dir", str(node_dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            self._wait(lambda p=port: redis.Redis(port=p, socket_timeout=0.2).ping())
        subprocess.run(["redis-cli", "--cluster", "create", *self.nodes, "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait(self._ready)
        return self

    def _ready(self) -> bool:
        for port in self.ports:
            info = redis.Redis(port=port, socket_timeout=0.5).cluster("info")
            if info.get("cluster_state") != "ok":
                return False
        return True

    @staticmethod
    def _wait(check: object, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():  # type: ignore[operator]
                    return
            except redis.exceptions.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not come up")

    def flushall(self) -> None:
        for port in self.ports:
            redis.Redis(port=port).flushall()

    def dbsize(self) -> int:
        return sum(int(redis.Redis(port=p).dbsize()) for p in self.ports)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    def __enter__(self) -> RedisClusterProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
