local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local jf = {}
for i = 5, #ARGV do jf[#jf + 1] = ARGV[i] end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[3])
local out = {}
for _, wid in ipairs(ids) do
  local w = 'ci:webhook:' .. wid
  local f = redis.call('HMGET', w, 'type', 'subject', 'owner', 'url', 'created_at',
    'status')
  if not f[1] or f[6] ~= 'pending' then
    redis.call('ZREM', KEYS[1], wid)
  else
    redis.call('ZADD', KEYS[1], now + lease, wid)
    local a = redis.call('HINCRBY', w, 'attempts', 1)
    redis.call('HSET', w, 'claim', ARGV[4])
    local secret = redis.call('GET', 'ci:webhook_secret:' .. f[3]) or ''
    local fields, jobs = {}, {}
    if f[1] == 'batch.completed' then
      local b = 'ci:batch:' .. f[2]
      fields = redis.call('HMGET', b, 'total', 'done', 'created_at', 'completed_at',
        'n_completed', 'n_failed', 'n_timeout', 'n_oom', 'n_cancelled', 'n_dead')
      jobs = redis.call('LRANGE', b .. ':jobs', 0, -1)
    else
      fields = redis.call('HMGET', 'ci:job:' .. f[2], unpack(jf))
    end
    out[#out + 1] = {wid, f[1], f[2], f[4], f[5], a, secret, fields, jobs}
  end
end
return out
