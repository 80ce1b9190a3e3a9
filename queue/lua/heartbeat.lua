-- Heartbeat: reset the idle time of the entries still pending for us.
-- KEYS: stream.  ARGV: group, worker, entry ids...
-- Returns the ids no longer pending for this worker (lease lost).
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
