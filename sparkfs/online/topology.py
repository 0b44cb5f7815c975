"""Where the Redis nodes are: one node, or the masters of a cluster and their slots.

Used by the bulk writer (raw sockets, one per master) and to build redis-py clients for
control operations and reads from the same config.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from sparkfs.config import RedisClusterConfig, RedisConfig
from sparkfs.errors import OnlineStoreError
from sparkfs.online.resp import Address, Connection, ReplyError, command, parse_redis_url

__all__ = ["OnlineTarget", "Topology", "make_client", "node_label"]

OnlineTarget = RedisConfig | RedisClusterConfig
SLOTS = 16384


def node_label(online: OnlineTarget) -> str:
    """Human-readable name of the store for error messages."""
    if isinstance(online, RedisClusterConfig):
        return "Redis Cluster " + ",".join(online.nodes)
    address = parse_redis_url(online.url)
    return f"Redis {address}"


def _seed(node: str) -> Address:
    host, _, port = node.rpartition(":")
    return Address(host=host or "127.0.0.1", port=int(port))


@dataclass
class Topology:
    """Masters and, on a cluster, the owner of each slot (``slots[slot] -> node index``)."""

    nodes: list[Address]
    slots: list[int] | None

    @property
    def is_cluster(self) -> bool:
        return self.slots is not None

    def node_of(self, key: bytes) -> int:
        return 0 if self.slots is None else self.slots[key_slot(key)]

    @classmethod
    def discover(cls, online: OnlineTarget) -> Topology:
        """Ask a seed node for the slot map (cluster) or take the URL as is (standalone).

        Raises:
            OnlineStoreError: no seed node answered; names the nodes tried.
        """
        if isinstance(online, RedisConfig):
            return cls(nodes=[parse_redis_url(online.url)], slots=None)
        errors = []
        for seed in online.nodes:
            address = _seed(seed)
            try:
                conn = Connection(address, online.socket_timeout_s)
                try:
                    (reply,) = conn.roundtrip(command("CLUSTER", "SLOTS"), 1)
                finally:
                    conn.close()
            except (OSError, ReplyError) as exc:
                errors.append(f"{address}: {exc}")
                continue
            if isinstance(reply, ReplyError) or not isinstance(reply, list):
                errors.append(f"{address}: CLUSTER SLOTS failed: {reply}")
                continue
            return cls._from_slots(reply)
        raise OnlineStoreError(
            "no Redis Cluster seed node answered (" + "; ".join(errors) + "); check "
            "online.nodes in sparkfs.yaml and that the cluster is up"
        )

    @classmethod
    def _from_slots(cls, reply: list[object]) -> Topology:
        nodes: list[Address] = []
        index: dict[tuple[str, int], int] = {}
        slots = [-1] * SLOTS
        for entry in reply:
            assert isinstance(entry, list)
            start, end, master = int(entry[0]), int(entry[1]), entry[2]  # type: ignore[arg-type]
            assert isinstance(master, list)
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            ident = (host or "127.0.0.1", int(master[1]))  # type: ignore[arg-type]
            if ident not in index:
                index[ident] = len(nodes)
                nodes.append(Address(host=ident[0], port=ident[1]))
            for slot in range(start, end + 1):
                slots[slot] = index[ident]
        if -1 in slots:
            raise OnlineStoreError("the Redis Cluster does not cover all 16384 slots; "
                                   "fix the cluster (redis-cli --cluster fix) and retry")
        return cls(nodes=nodes, slots=slots)


def make_client(online: OnlineTarget, *, timeout_s: float | None = None) -> redis.Redis | RedisCluster:
    """A redis-py client for control operations and reads, configured like the writer."""
    timeout = timeout_s if timeout_s is not None else online.socket_timeout_s
    if isinstance(online, RedisConfig):
        return redis.Redis.from_url(online.url, socket_timeout=timeout,
                                    socket_connect_timeout=timeout)
    return RedisCluster(
        startup_nodes=[ClusterNode(a.host, a.port) for a in map(_seed, online.nodes)],
        socket_timeout=timeout, socket_connect_timeout=timeout,
    )
