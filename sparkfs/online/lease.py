"""One sync per view at a time: a lease in Redis, next to the view's control hash.

Two syncs of one view must not run over each other: a full refresh deletes a ``building``
generation it finds, which may be the other sync's, and publishing could interleave. Scheduler
catch-up runs do overlap in practice. So a sync first takes the view's lease
(``SET <ns>:<L>:{<view>}:lease <token> NX PX <lease>``, the control key's hash tag: one slot on a
cluster), keeps it alive with a heartbeat every third of the lease, checks it is still the
holder before it publishes a generation or moves the checkpoint, and releases it at the end.
A lease that vanished (Redis restarted without persistence) is taken again if nobody else
holds it; one another sync holds is a conflict.
A second sync waits for it up to ``wait_s`` and otherwise refuses, saying who holds it. A holder
that dies stops renewing, and its lease expires after ``online.sync_lease_s``: nothing is ever
locked for good.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from types import TracebackType

import redis
from redis.cluster import RedisCluster

from sparkfs.errors import OnlineStoreError, WriteConflictError
from sparkfs.online.layout import LAYOUT_VERSION
from sparkfs.online.retry import retrying
from sparkfs.online.topology import OnlineTarget, make_client

__all__ = ["SyncLease", "lease_key"]

#: Renew (PEXPIRE) while the caller holds the lease; take it again if it is gone (Redis
#: restarted without persistence, or a stall outlived it) and nobody else took it.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
#: Release (DEL) only the caller's own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(namespace: str, view_name: str) -> str:
    """The lease key of a view (the control hash's hash tag: the same cluster slot)."""
    return f"{namespace}:{LAYOUT_VERSION}:{{{view_name}}}:lease"


class SyncLease:
    """A context manager holding the sync lease of one view.

    Raises (on entering):
        WriteConflictError: another sync holds the lease for longer than ``wait_s``; names it.
        OnlineStoreError: Redis is unreachable (after ``online.max_retries`` retries).
    """

    def __init__(self, online: OnlineTarget, view_name: str, *, wait_s: float = 0.0) -> None:
        self.online = online
        self.view_name = view_name
        self.wait_s = wait_s
        self.key = lease_key(online.namespace, view_name)
        self.lease_ms = int(online.sync_lease_s * 1000)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{int(time.time() * 1000)}"
        self.token = f"{self.holder}:{secrets.token_hex(8)}"
        self._client: redis.Redis | RedisCluster = make_client(online)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SyncLease:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                taken, other, left = retrying(self.online,
                                              f"taking the sync lease of {self.view_name!r}",
                                              self._try_take)
            except OnlineStoreError:
                self._client.close()
                raise
            if taken:
                break
            if time.monotonic() >= deadline:
                self._client.close()
                raise WriteConflictError(_conflict(self.view_name, other, left, self.wait_s))
            time.sleep(min(0.2, max(0.01, deadline - time.monotonic())))
        self._thread = threading.Thread(target=self._beat, name=f"sparkfs-lease-{self.view_name}",
                                        daemon=True)
        self._thread.start()
        return self

    def _try_take(self) -> tuple[bool, bytes | str | None, int]:
        """Take the lease if free; else who holds it and its milliseconds left."""
        if self._client.set(self.key, self.token, nx=True, px=self.lease_ms):
            return True, None, 0
        other = self._client.get(self.key)
        if other in (self.token, self.token.encode()):
            return True, None, 0  # a retried SET whose first attempt did land
        return False, other, self._client.pttl(self.key)

    def _beat(self) -> None:
        period = self.lease_ms / 3000
        while not self._stop.wait(period):
            try:
                if not self._client.eval(_RENEW, 1, self.key, self.token, self.lease_ms):
                    return  # another sync holds it: check() refuses before anything is published
            except redis.RedisError:
                continue  # a blip; the next beat retries, and check() reports a real loss

    def check(self, what: str) -> None:
        """Raise unless this sync still holds the lease (call before publishing anything).

        Transient Redis errors (a restart, a failover) are retried like every other step of
        a sync; a lease that vanished with a restart is taken again if nobody else holds it.

        Raises:
            WriteConflictError: the lease expired (heartbeats failed) or another sync took it.
            OnlineStoreError: Redis still unreachable after ``online.max_retries`` retries.
        """
        held = bool(retrying(self.online, f"checking the sync lease of {self.view_name!r} "
                                          f"before {what}",
                             lambda: self._client.eval(_RENEW, 1, self.key, self.token,
                                                       self.lease_ms)))
        if not held:  # the heartbeat's view may be stale: this check is the truth now
            raise WriteConflictError(
                f"the sync of {self.view_name!r} lost its lease before {what} (Redis was "
                f"unreachable for over {self.online.sync_lease_s:g}s or another sync took "
                "over); nothing was published by this run; rerun `sparkfs sync` once no other "
                "sync of the view is running")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            pass  # it expires on its own
        finally:
            self._client.close()


def _conflict(view_name: str, other: bytes | str | None, left_ms: int, wait_s: float) -> str:
    text = other.decode(errors="replace") if isinstance(other, bytes) else other
    holder = "another process" if text is None else text.rsplit(":", 1)[0]
    host, _, rest = holder.partition(":")
    pid, _, since = rest.partition(":")
    who = f"process {pid} on {host}" if pid else holder
    started = ""
    if since.isdigit():
        started = time.strftime(" since %Y-%m-%d %H:%M:%S UTC", time.gmtime(int(since) / 1000))
    waited = f" (waited {wait_s:g}s)" if wait_s else ""
    return (f"another sync of {view_name!r} is running: {who}{started}{waited}. Wait for it to "
            f"finish (`sparkfs sync --wait SECONDS`), or, if that process died, its lease ends "
            f"by itself in {max(left_ms, 0) / 1000:.0f}s")
