-- Store results of a batch (first write wins).
-- KEYS: ci:jobs:high, ci:jobs, hash_1..hash_n.
-- ARGV: group, now, ttl, then per job: stream index (1|2), entry, id,
-- status, result, error ('' = none).
-- Returns per job: 0 stored, 1 duplicate (already terminal), 2 hash gone.
local g, now, ttl = ARGV[1], ARGV[2], ARGV[3]
local out, ack = {}, {{}, {}}
for i = 1, #KEYS - 2 do
  local b = 3 + 6 * (i - 1)
  local si, h, entry, id = tonumber(ARGV[b + 1]), KEYS[2 + i], ARGV[b + 2], ARGV[b + 3]
  -- one read for the status and for everything on_terminal needs
  local f = redis.call('HMGET', h, 'status', 'session_id', 'ticket', 'parked', 'callback_url',
    'batch', 'owner')
  local st = f[1]
  if st == 'queued' or st == 'running' then
    if ARGV[b + 6] ~= '' then
      redis.call('HSET', h, 'status', ARGV[b + 4], 'result', ARGV[b + 5], 'finished_at', now,
        'error', ARGV[b + 6])
    else
      redis.call('HSET', h, 'status', ARGV[b + 4], 'result', ARGV[b + 5], 'finished_at', now)
    end
    redis.call('EXPIRE', h, ttl)
    on_terminal(h, id, ARGV[b + 4], now, ttl, {f[2], f[3], f[4], f[5], f[6], f[7]})
    redis.call('PUBLISH', 'ci:done', id)
    out[i] = 0
  elseif st then out[i] = 1 else out[i] = 2 end
  ack[si][#ack[si] + 1] = entry
end
for si = 1, 2 do
  if #ack[si] > 0 then
    redis.call('XACK', KEYS[si], g, unpack(ack[si]))
    redis.call('XDEL', KEYS[si], unpack(ack[si]))
  end
end
return out
