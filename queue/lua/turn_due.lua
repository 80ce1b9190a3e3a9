-- Deadline sweep of parked jobs.  KEYS: ci:turn:due.  ARGV: now, max.
-- Parked jobs whose deadline passed go back to their stream marked
-- turn_expired (the start script then answers them a timeout instead of
-- running them).  Returns how many were woken.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0,
  tonumber(ARGV[2]))
for i = 1, #ids do
  redis.call('ZREM', KEYS[1], ids[i])
  turn_wake(ids[i], true)
end
return #ids
