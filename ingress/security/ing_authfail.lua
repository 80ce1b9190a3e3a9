-- One atomic step (a script: parallel failures cannot all read "below the
-- limit"): a counter already at the limit is left alone and reported
-- locked; otherwise it is incremented first, its window started (EXPIRE NX:
-- never extended), and the IP entered into the bounded monitoring set.
-- KEYS: counter, ip set.  ARGV: limit, window s, window end ms, now ms, set
-- cap, ip.  Returns {count, ttl, locked}.
local limit = tonumber(ARGV[1])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit > 0 and n >= limit then
  return {n, redis.call('TTL', KEYS[1]), 1}
end
n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {n, redis.call('TTL', KEYS[1]), 0}
