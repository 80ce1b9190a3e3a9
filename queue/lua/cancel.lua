-- Cancel.  KEYS: hash.  ARGV: id, now, ttl.
-- Returns the status after the call ('' when the job does not exist).
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return '' end
if st == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  on_terminal(KEYS[1], ARGV[1], 'cancelled', ARGV[2], ARGV[3])
  redis.call('PUBLISH', 'ci:done', ARGV[1])
  return 'cancelled'
end
if st == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1')
  redis.call('PUBLISH', 'ci:cancel', ARGV[1])
end
return st
