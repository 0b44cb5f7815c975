"""Bulk writer: pipelined batches of raw RESP to every master, with bounded retries.

Runs on Spark executors (one writer per partition task). Three write modes:

* ``FRESH``: plain ``SET key value PXAT expiry`` into a generation nobody reads yet (a full
  refresh). Each entity appears once in a refresh and nobody else writes that generation, so
  there is no older/newer race to arbitrate, and plain SET is about 3x cheaper for Redis than
  the script (see docs/online-store.md, measured figures).
* ``CONDITIONAL``: the merge script (:mod:`sparkfs.online.script`), one ``EVALSHA`` per chunk
  of same-slot keys: the given change points merged into the stored ones under the event-time
  rule, enforced atomically in Redis.
* ``FORCE``: the script replacing instead of merging (an offline delete removed a stored row).
* ``DELETE``: ``UNLINK`` (an entity has no row left within ttl after an offline delete).

Every batch is idempotent, so a failed batch is simply sent again after reconnecting (and, on a
cluster, re-reading the slot map after MOVED/ASK/CLUSTERDOWN).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sparkfs.errors import OnlineStoreError
from sparkfs.online.resp import Connection, ReplyError, command
from sparkfs.online.script import WRITE_SCRIPT, WRITE_SCRIPT_SHA
from sparkfs.online.topology import OnlineTarget, Topology, node_label

__all__ = ["BulkWriter", "WriteCounts", "WriteMode"]

_SCRIPT_CHUNK = 500
_RETRYABLE = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "NOSCRIPT", "BUSY")
_SHA = WRITE_SCRIPT_SHA.encode()


class WriteMode(StrEnum):
    FRESH = "fresh"
    CONDITIONAL = "conditional"
    FORCE = "force"
    DELETE = "delete"


@dataclass
class WriteCounts:
    """Entities sent, written (or deleted) and skipped (older or outside ttl)."""

    sent: int = 0
    written: int = 0
    deleted: int = 0
    deferred: int = 0

    def add(self, other: WriteCounts) -> None:
        self.sent += other.sent
        self.written += other.written
        self.deleted += other.deleted
        self.deferred += other.deferred


class _Retry(Exception):
    def __init__(self, node: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node


class BulkWriter:
    """Writes batches of (key, value) to the online store; one instance per task."""

    def __init__(self, online: OnlineTarget, *, now_ms: int, ttl_ms: int,
                 delay_us: int = 0) -> None:
        self.online = online
        self.now_ms = now_ms
        self.ttl_ms = ttl_ms
        self.delay_us = delay_us
        self._topology: Topology | None = None
        self._conns: dict[int, Connection] = {}

    def write(
        self, mode: WriteMode, keys: Sequence[bytes], values: Sequence[bytes] | None = None,
        expire_ms: Sequence[int] | None = None,
    ) -> WriteCounts:
        """Send one batch, retrying the whole batch on transient failures.

        ``expire_ms`` (absolute, per key) is required for ``FRESH`` with a ttl.

        Raises:
            OnlineStoreError: still failing after ``max_retries``; names the node.
        """
        attempts = self.online.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._write_once(mode, keys, values, expire_ms)
            except _Retry as exc:
                self.close()
                if attempt + 1 == attempts:
                    raise OnlineStoreError(
                        f"Redis node {exc.node} failed after {attempts} attempts: {exc}; "
                        "check that it is up and reachable, then rerun the sync (it resumes "
                        "from the last checkpoint)"
                    ) from exc
                time.sleep(self.online.retry_backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    def write_frames(self, payload: bytes, n_commands: int) -> WriteCounts:
        """Send pre-framed ``SET`` commands (``frames.py``) to a standalone node, with retries."""
        attempts = self.online.max_retries + 1
        for attempt in range(attempts):
            try:
                if self._topology is None:
                    self._topology = Topology.discover(self.online)
                conn = self._connect(0)
                self._send(conn, payload)
                counts = WriteCounts(sent=n_commands)
                if self._all_ok(conn, n_commands):
                    counts.written = n_commands
                    return counts
                for reply in self._read(conn, n_commands):
                    self._tally(WriteMode.FRESH, reply, counts, conn)
                return counts
            except _Retry as exc:
                self.close()
                if attempt + 1 == attempts:
                    raise OnlineStoreError(
                        f"Redis node {exc.node} failed after {attempts} attempts: {exc}; "
                        "check that it is up and reachable, then rerun the sync"
                    ) from exc
                time.sleep(self.online.retry_backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self._topology = None

    def _connect(self, node: int) -> Connection:
        assert self._topology is not None
        conn = self._conns.get(node)
        if conn is None:
            address = self._topology.nodes[node]
            try:
                conn = Connection(address, self.online.socket_timeout_s)
                (loaded,) = conn.roundtrip(command("SCRIPT", "LOAD", WRITE_SCRIPT), 1)
                if isinstance(loaded, ReplyError):
                    raise loaded
            except (OSError, ReplyError) as exc:
                raise _Retry(str(address), f"cannot connect: {exc}") from exc
            self._conns[node] = conn
        return conn

    def _write_once(
        self, mode: WriteMode, keys: Sequence[bytes], values: Sequence[bytes] | None,
        expire_ms: Sequence[int] | None,
    ) -> WriteCounts:
        if self._topology is None:
            try:
                self._topology = Topology.discover(self.online)
            except OnlineStoreError as exc:
                raise _Retry(node_label(self.online), str(exc)) from exc
        topo = self._topology
        if topo.is_cluster:
            groups: dict[int, list[int]] = {}
            for i, key in enumerate(keys):
                groups.setdefault(topo.node_of(key), []).append(i)
        else:
            groups = {0: list(range(len(keys)))}
        plans = {node: self._frame(mode, idx, keys, values, expire_ms) for node, idx in groups.items()}
        conns = {node: self._connect(node) for node in plans}
        counts = WriteCounts(sent=len(keys))
        for node, (payload, _) in plans.items():
            self._send(conns[node], payload)
        for node, (_, n_replies) in plans.items():
            for reply in self._read(conns[node], n_replies):
                self._tally(mode, reply, counts, conns[node])
        return counts

    def _send(self, conn: Connection, payload: bytes) -> None:
        try:
            conn.sock.sendall(payload)
        except OSError as exc:
            raise _Retry(str(conn.address), f"send failed: {exc}") from exc

    def _all_ok(self, conn: Connection, n: int) -> bool:
        """Every SET answered ``+OK`` (the common case): checked in one comparison."""
        try:
            return conn.take_run(b"+OK\r\n", n)
        except (OSError, ConnectionError) as exc:
            raise _Retry(str(conn.address), f"read failed: {exc}") from exc

    def _read(self, conn: Connection, n: int) -> list[object]:
        try:
            return conn.roundtrip(b"", n)
        except (OSError, ConnectionError) as exc:
            raise _Retry(str(conn.address), f"read failed: {exc}") from exc

    def _tally(self, mode: WriteMode, reply: object, counts: WriteCounts, conn: Connection) -> None:
        if isinstance(reply, ReplyError):
            text = str(reply)
            if text.startswith("NOSCRIPT"):
                conn.roundtrip(command("SCRIPT", "LOAD", WRITE_SCRIPT), 1)
            if text.startswith(_RETRYABLE):
                raise _Retry(str(conn.address), text)
            raise OnlineStoreError(f"Redis node {conn.address} rejected a write: {text}")
        if mode is WriteMode.FRESH:
            counts.written += 1
        elif mode is WriteMode.DELETE:
            counts.deleted += int(reply)  # type: ignore[call-overload]
        else:
            counts.written += int(reply)  # type: ignore[call-overload]

    def _frame(
        self, mode: WriteMode, idx: list[int], keys: Sequence[bytes],
        values: Sequence[bytes] | None, expire_ms: Sequence[int] | None,
    ) -> tuple[bytes, int]:
        if mode is WriteMode.DELETE:
            return b"".join(command("UNLINK", keys[i]) for i in idx), len(idx)
        assert values is not None
        if mode is WriteMode.FRESH:
            return self._frame_fresh(idx, keys, values, expire_ms), len(idx)
        return self._frame_script(mode, idx, keys, values)

    def _frame_fresh(
        self, idx: list[int], keys: Sequence[bytes], values: Sequence[bytes],
        expire_ms: Sequence[int] | None,
    ) -> bytes:
        if self.ttl_ms == 0 or expire_ms is None:
            tmpl = b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
            return b"".join([tmpl % (len(keys[i]), keys[i], len(values[i]), values[i]) for i in idx])
        tmpl = b"*5\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$4\r\nPXAT\r\n$%d\r\n%b\r\n"
        parts = []
        for i in idx:
            key, value, exp = keys[i], values[i], b"%d" % expire_ms[i]
            parts.append(tmpl % (len(key), key, len(value), value, len(exp), exp))
        return b"".join(parts)

    def _frame_script(
        self, mode: WriteMode, idx: list[int], keys: Sequence[bytes], values: Sequence[bytes],
    ) -> tuple[bytes, int]:
        topo = self._topology
        assert topo is not None
        chunks: list[list[int]]
        if topo.is_cluster:
            from redis.crc import key_slot

            by_slot: dict[int, list[int]] = {}
            for i in idx:
                by_slot.setdefault(key_slot(keys[i]), []).append(i)
            chunks = [c[j : j + _SCRIPT_CHUNK] for c in by_slot.values()
                      for j in range(0, len(c), _SCRIPT_CHUNK)]
        else:
            chunks = [idx[j : j + _SCRIPT_CHUNK] for j in range(0, len(idx), _SCRIPT_CHUNK)]
        force = b"1" if mode is WriteMode.FORCE else b"0"
        head = [b"%d" % self.now_ms, b"%d" % self.ttl_ms, force, b"%d" % self.delay_us]
        payload = b"".join(
            command(b"EVALSHA", _SHA, len(c), *[keys[i] for i in c], *head, *[values[i] for i in c])
            for c in chunks
        )
        return payload, len(chunks)
