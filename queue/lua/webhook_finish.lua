local w = KEYS[2]
if redis.call('HGET', w, 'claim') ~= ARGV[2] then return 0 end
local a = redis.call('HGET', w, 'attempts') or '0'
redis.call('HSET', w, 'last_error', ARGV[5], 'last_status', ARGV[6],
  'last_attempt_at', ARGV[7])
local mirror = redis.call('EXISTS', KEYS[3]) == 1
if ARGV[3] == 'retry' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  if mirror then
    redis.call('HSET', KEYS[3], 'webhook_attempts', a, 'webhook_error', ARGV[5])
  end
  return 1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', w, 'status', ARGV[3], 'finished_at', ARGV[7])
redis.call('HDEL', w, 'claim')
redis.call('EXPIRE', w, ARGV[8])
if mirror then
  redis.call('HSET', KEYS[3], 'webhook_status', ARGV[3], 'webhook_attempts', a,
    'webhook_error', ARGV[5])
end
return 2
