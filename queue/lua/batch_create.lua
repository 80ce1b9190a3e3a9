-- KEYS: batch hash, job list, done set.  ARGV: ttl, owner, callback_url,
-- created_at, total, user tag ('' = anonymous), job ids...  Returns 1
-- created, 0 id taken.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'total', ARGV[5], 'created_at', ARGV[4],
  'done', 0)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'callback_url', ARGV[3]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'user', ARGV[6]) end
for i = 7, #ARGV, 500 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
