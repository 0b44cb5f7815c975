"""The merge script: the event-time rule enforced atomically inside Redis.

One ``EVALSHA`` carries many keys (all in one slot on a cluster). A value is an entity's
change points (``layout.py``); for each key the script merges the points it is given with the
stored ones: one point per event time, the latest (created, ``_ingested_at``) winning (the
offline tie rule: a correction recorded later wins, a re-sent older row does not although it
was ingested later; on a full tie the new point), then drops the points a lookup can no longer
see (all before the one current at ``now``) and those outside the ttl at ``now``. The value's
format byte says whether points carry a created time (3, 4) and whether they are visible only
from it (4, knowing time: one point per (event time, created), since an older record stays
the answer until its correction was recorded). So an older row never
replaces a newer one, and a replayed or concurrent write changes nothing it should not. It sets
``PXAT`` to the last point's event time + ttl in the same step, and leaves a key whose merged
value is unchanged untouched (not counted as written). Reading and writing inside one script is
what makes this atomic: a read-then-write from the client could interleave with another writer.

ARGV: ``now_ms``, ``ttl_ms`` (0 = no ttl), ``force`` (``1`` = replace instead of merging; used
when the offline store deleted a row), ``delay_us`` (the view's availability delay), then one
value per key. Returns the number written.
"""

from __future__ import annotations

import hashlib

__all__ = ["WRITE_SCRIPT", "WRITE_SCRIPT_SHA"]

WRITE_SCRIPT = r"""
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local force = ARGV[3] == '1'
local delay = tonumber(ARGV[4])
local now_us = now * 1000
local horizon = now_us - ttl * 1000
local NO_CREATED = -9223372036854775808

-- a point: {event_us, created_us, ingested_us, 0 = stored / 1 = new, bytes}
local function split(v, src, out)
  local pos, size = 18, #v
  local created = string.byte(v, 1) ~= 2
  while pos <= size do
    local len = struct.unpack('<I4', v, pos)
    local ev, ing = struct.unpack('<i8i8', v, pos + 4)
    local cr = NO_CREATED
    if created then cr = struct.unpack('<i8', v, pos + 20) end
    out[#out + 1] = {ev, cr, ing, src, string.sub(v, pos, pos + 3 + len)}
    pos = pos + 4 + len
  end
end

local function before(a, b)
  for f = 1, 3 do
    if a[f] ~= b[f] then return a[f] < b[f] end
  end
  return a[4] < b[4]
end

local written = 0
for i = 1, #KEYS do
  local v = ARGV[i + 4]
  local fmt = string.byte(v, 1)
  local known = fmt == 4
  local old = false
  local pts = {}
  if not force then
    old = redis.call('GET', KEYS[i])
    if old and string.byte(old, 1) == fmt then split(old, 0, pts) end
  end
  split(v, 1, pts)
  table.sort(pts, before)
  local kept = {}
  for j = 1, #pts do
    local nxt = pts[j + 1]
    if j == #pts or nxt[1] ~= pts[j][1] or (known and nxt[2] ~= pts[j][2]) then
      kept[#kept + 1] = pts[j]
    end
  end
  local first = 1
  for j = 1, #kept do
    local p = kept[j]
    if p[1] + delay <= now_us and (not known or (p[2] ~= NO_CREATED and p[2] <= now_us)) then
      first = j
    end
  end
  local parts, last = {}, nil
  for j = first, #kept do
    if ttl == 0 or kept[j][1] > horizon then
      parts[#parts + 1] = kept[j][5]
      last = kept[j]
    end
  end
  if last == nil then
    if force then redis.call('DEL', KEYS[i]) end
  else
    local value = string.char(fmt) .. string.sub(last[5], 5, 20) .. table.concat(parts)
    if value ~= old then
      if ttl > 0 then
        local exp = math.floor(last[1] / 1000) + ttl
        redis.call('SET', KEYS[i], value, 'PXAT', string.format('%d', exp))
      else
        redis.call('SET', KEYS[i], value)
      end
      written = written + 1
    end
  end
end
return written
"""

WRITE_SCRIPT_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()
