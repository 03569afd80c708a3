"""The guarded write of a push-fed view's row: values never go backwards.

One Lua script, run by pushes (the API, the stream consumer) and by the sync for push-fed views
alike. KEYS[1] is the entity hash. ARGV: how many fields to delete, those fields, then
`_ts:<view>` and the row's event timestamp, then feature/value pairs (the sync's replace
arguments, whose first pair is the timestamp). The row lands, fields deleted and set at once, only
when its event timestamp is at or after the stored one; else nothing changes. Timestamps are
compared as instants: the text form leaves out zero microseconds, so `...:00Z` is padded to
`...:00.000000Z` before comparing.
"""

from __future__ import annotations

import hashlib

GUARDED_ROW_SCRIPT = b"""
local deletes = tonumber(ARGV[1])
local ts_field = ARGV[deletes + 2]
local ts = ARGV[deletes + 3]
local function instant(text)
  if string.find(text, '.', 1, true) then return text end
  return string.sub(text, 1, -2) .. '.000000Z'
end
local stored = redis.call('HGET', KEYS[1], ts_field)
if stored and instant(stored) > instant(ts) then return 0 end
if deletes > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2, deletes + 1)) end
redis.call('HSET', KEYS[1], unpack(ARGV, deletes + 2))
return 1
"""

GUARDED_ROW_SHA = hashlib.sha1(GUARDED_ROW_SCRIPT).hexdigest()

# The sync's removal of a push-fed view's fields from an entity the view no longer has: only when
# `_ts:<view>` is still what the sync saw (ARGV[2], "" for none), so a push that landed since is kept.
# KEYS[1]: the entity hash; ARGV[1]: `_ts:<view>`; ARGV[3...]: the fields to delete.
GUARDED_CLEAR_SCRIPT = b"""
local stored = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if stored ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], unpack(ARGV, 3))
"""
