-- Enqueue a batch.  KEYS: ci:jobs:high, ci:jobs, hash_1..hash_n.
-- ARGV: ttl, then per job: id, owner, session_id, created_at, stream index
-- (1|2), job bytes, callback_url ('' = none), batch id ('' = none), turn
-- deadline (ms; '' = no line: batch items), user tag ('' = the anonymous
-- user; ingress/http/ing_http.h).  A job with a session and a deadline takes the
-- next ticket of its session's line (lua/turn.lua) in this same call.
-- Returns per job 1, or 0 when the id already exists (nothing written for
-- it).
local ttl, out = ARGV[1], {}
for i = 1, #KEYS - 2 do
  local b, h = 1 + 10 * (i - 1), KEYS[2 + i]
  if redis.call('EXISTS', h) == 1 then
    out[i] = 0
  else
    local hf = {'status', 'queued', 'owner', ARGV[b + 2], 'session_id', ARGV[b + 3],
      'created_at', ARGV[b + 4], 'attempts', 0}
    if ARGV[b + 7] ~= '' then hf[#hf + 1] = 'callback_url'; hf[#hf + 1] = ARGV[b + 7] end
    if ARGV[b + 8] ~= '' then hf[#hf + 1] = 'batch'; hf[#hf + 1] = ARGV[b + 8] end
    if ARGV[b + 10] ~= '' then hf[#hf + 1] = 'user'; hf[#hf + 1] = ARGV[b + 10] end
    if ARGV[b + 3] ~= '' and ARGV[b + 9] ~= '' then
      local z = 'ci:turn:' .. ARGV[b + 3]
      local last = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
      local t = 1
      if #last > 0 then t = tonumber(last[2]) + 1 end
      redis.call('ZADD', z, t, ARGV[b + 1])
      if t == 1 then redis.call('EXPIRE', z, ttl) end
      hf[#hf + 1] = 'ticket'; hf[#hf + 1] = t
      hf[#hf + 1] = 'turn_deadline'; hf[#hf + 1] = ARGV[b + 9]
    end
    redis.call('HSET', h, unpack(hf))
    redis.call('EXPIRE', h, ttl)
    redis.call('XADD', KEYS[tonumber(ARGV[b + 5])], '*', 'id', ARGV[b + 1], 'job', ARGV[b + 6])
    out[i] = 1
  end
end
return out
