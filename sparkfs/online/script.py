"""The conditional write script: the event-time rule enforced atomically inside Redis.

One ``EVALSHA`` carries many keys (all in one slot on a cluster). For each key the script reads
the 16-byte header of the stored value (``GETRANGE 1 16``: event time and ingestion time) and
writes only when the new value is not older, comparing ``(event_time, ingested_at)``
lexicographically, the tie rule of the offline store. It sets ``PXAT event_time + ttl`` in the
same step and skips a value already outside its ttl. Reading and writing inside one script is
what makes concurrent or replayed writers safe: a read-then-write from the client could
interleave with another writer.

ARGV: ``now_ms``, ``ttl_ms`` (0 = no ttl), ``force`` (``1`` = skip the comparison; used when
the offline store deleted the newer row), then one value per key. Returns the number written.
"""

from __future__ import annotations

import hashlib

__all__ = ["WRITE_SCRIPT", "WRITE_SCRIPT_SHA"]

WRITE_SCRIPT = r"""
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local force = ARGV[3] == '1'
local written = 0
for i = 1, #KEYS do
  local v = ARGV[i + 3]
  local ev, ing = struct.unpack('<i8i8', v, 2)
  local exp = math.floor(ev / 1000) + ttl
  if ttl == 0 or exp > now then
    local ok = true
    if not force then
      local old = redis.call('GETRANGE', KEYS[i], 1, 16)
      if #old == 16 then
        local oev, oing = struct.unpack('<i8i8', old)
        if oev > ev or (oev == ev and oing > ing) then ok = false end
      end
    end
    if ok then
      if ttl > 0 then
        redis.call('SET', KEYS[i], v, 'PXAT', string.format('%d', exp))
      else
        redis.call('SET', KEYS[i], v)
      end
      written = written + 1
    end
  elseif force then
    redis.call('DEL', KEYS[i])
  end
end
return written
"""

WRITE_SCRIPT_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()
