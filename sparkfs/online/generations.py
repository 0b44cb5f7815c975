"""Generations: how a full refresh swaps a whole view at once.

A full refresh writes every entity under a new generation number (part of each data key), then
flips the view's pointer for that definition version to it in one ``HSET`` on the control hash,
then, after a grace period, deletes the keys of the previous generation. Readers resolve the
pointer (cached, and re-validated in the same round trip as every read: see
``reader.py``), so a read is always served from exactly one generation of exactly one
definition version: never a mix.

The control hash (``layout.control_key``) holds::

    seq          generation counter (HINCRBY)
    ptr:<ver>    live generation of a definition version
    gen:<n>      "<version>|<state>|<since_ms>", state in building / live / retired

A refresh killed half-way leaves a ``building`` generation that no pointer references; the next
sync of the view deletes it (and any ``retired`` one whose grace period is over) before it
starts, so reruns converge to the state of a clean run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

from sparkfs.errors import OnlineStoreError
from sparkfs.online.layout import (
    control_key,
    data_prefix,
    escape_glob,
    generation_field,
    pointer_field,
)

__all__ = ["GenerationInfo", "GenerationLostError", "Generations"]

_DELETE_BATCH = 1000
_PUBLISH = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return -1 end
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4] .. '|live|' .. ARGV[5])
if old and old ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'gen:' .. old, ARGV[4] .. '|retired|' .. ARGV[5])
  return tonumber(old)
end
return 0
"""
_RETIRE = """
redis.call('HDEL', KEYS[1], ARGV[1])
for i = 4, #ARGV do
  redis.call('HSET', KEYS[1], 'gen:' .. ARGV[i], ARGV[2] .. '|retired|' .. ARGV[3])
end
return 1
"""


class GenerationLostError(OnlineStoreError):
    """Redis lost a generation record mid-refresh (restart without persistence, flush)."""


@dataclass(frozen=True)
class GenerationInfo:
    generation: int
    version: str
    state: str
    since_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class Generations:
    """Generation bookkeeping of the views of one namespace."""

    def __init__(self, client: redis.Redis | RedisCluster, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _ctl(self, view_name: str) -> str:
        return control_key(self.namespace, view_name)

    def live(self, view_name: str, version: str) -> int | None:
        """The live generation of a definition version, ``None`` if never published."""
        raw = self.client.hget(self._ctl(view_name), pointer_field(version))
        return None if raw is None else int(raw)

    def list(self, view_name: str) -> list[GenerationInfo]:
        out = []
        for field, raw in self.client.hgetall(self._ctl(view_name)).items():
            name = field.decode()
            if not name.startswith("gen:"):
                continue
            version, state, since = raw.decode().split("|")
            out.append(GenerationInfo(int(name[4:]), version, state, int(since)))
        return sorted(out, key=lambda g: g.generation)

    def begin(self, view_name: str, version: str) -> int:
        """Allocate a new generation and record it as ``building`` before any key is written."""
        ctl = self._ctl(view_name)
        generation = int(self.client.hincrby(ctl, "seq", 1))
        self.client.hset(ctl, generation_field(generation), f"{version}|building|{_now_ms()}")
        return generation

    def publish(self, view_name: str, version: str, generation: int) -> int | None:
        """Point readers of ``version`` at ``generation``; mark the one it replaces ``retired``.

        One script on one key (one slot): readers see the old or the new pointer, nothing in
        between. Returns the retired generation (or ``None``).

        Raises:
            GenerationLostError: the generation's record vanished (Redis restarted without
                persistence, or was flushed, during the refresh): its keys are incomplete.
        """
        result = self.client.eval(_PUBLISH, 1, self._ctl(view_name), pointer_field(version),
                                  generation_field(generation), generation, version, _now_ms())
        if int(result) < 0:
            raise GenerationLostError(f"generation {generation} of {view_name!r} vanished "
                                      "from Redis during the refresh")
        return int(result) or None

    def retire_version(self, view_name: str, version: str) -> list[int]:
        """Unpublish a definition version (its readers then get NOT_FOUND); returns its gens."""
        ctl = self._ctl(view_name)
        gens = [g.generation for g in self.list(view_name) if g.version == version]
        self.client.eval(_RETIRE, 1, ctl, pointer_field(version), version, _now_ms(), *gens)
        return gens

    def collect(self, view_name: str, *, grace_s: float, wait: bool) -> int:
        """Delete generations no pointer references: ``building`` leftovers of killed runs and
        ``retired`` ones (after ``grace_s``, sleeping for the rest of it when ``wait``).

        Must not run concurrently with a sync of the same view (single writer per view).
        Returns the number of keys deleted.
        """
        deleted = 0
        for info in self.list(view_name):
            if info.state == "live":
                continue
            if info.state == "retired":
                left = info.since_ms / 1000 + grace_s - time.time()
                if left > 0:
                    if not wait:
                        continue
                    time.sleep(left)
            deleted += self.delete_keys(data_prefix(self.namespace, view_name, info.version,
                                                    info.generation))
            self.client.hdel(self._ctl(view_name), generation_field(info.generation))
        return deleted

    def drop_view(self, view_name: str) -> int:
        """Remove every key of a retired or deleted view (all versions and generations)."""
        for info in self.list(view_name):
            self.retire_version(view_name, info.version)
        deleted = 0
        for info in self.list(view_name):
            deleted += self.delete_keys(data_prefix(self.namespace, view_name, info.version,
                                                    info.generation))
        self.client.delete(self._ctl(view_name))
        return deleted

    def delete_keys(self, prefix: bytes) -> int:
        """UNLINK every key starting with ``prefix`` on every master (SCAN, no KEYS)."""
        pattern = escape_glob(prefix) + b"*"
        deleted = 0
        batch: list[bytes] = []
        try:
            for key in self.client.scan_iter(match=pattern, count=_DELETE_BATCH):
                batch.append(key)
                if len(batch) >= _DELETE_BATCH:
                    deleted += self._unlink(batch)
                    batch = []
            if batch:
                deleted += self._unlink(batch)
        except redis.RedisError as exc:
            raise OnlineStoreError(f"deleting keys {prefix!r} failed: {exc}; rerun the sync, "
                                   "it deletes leftovers first") from exc
        return deleted

    def _unlink(self, keys: list[bytes]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.unlink(key)
        return sum(int(n) for n in pipe.execute())
