-- Start a batch of entries read from one stream.
-- KEYS: stream, ci:dead, hash_1..hash_n.
-- ARGV: group, worker, now, max_attempts, ttl, dead_max (ci:dead is trimmed
-- to about that many entries), then entry_i, id_i pairs.
-- Returns one integer per entry: attempts (> 0, run it), 0 (skipped: gone,
-- terminal or cancel requested; XACKed), -1 (dead: too many attempts), -2
-- (it waited for its session's turn past its deadline: answer a timeout, do
-- not run it; status running, entry still pending) or -3 (parked: an
-- earlier call of its session has the turn; XACKed, woken by turn_done).
local s, g, now, ttl = KEYS[1], ARGV[1], ARGV[3], ARGV[5]
local out, ack = {}, {}
for i = 1, #KEYS - 2 do
  local h, entry, id = KEYS[2 + i], ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local f = redis.call('HMGET', h, 'status', 'cancel_requested', 'attempts',
    'session_id', 'ticket', 'turn_deadline', 'turn_waited', 'turn_expired')
  local st = f[1]
  local gate = 0
  out[i] = 0
  if (st == 'queued' or st == 'running') and f[2] ~= '1' then
    gate = turn_gate(h, id, s, entry, now, {f[4], f[5], f[6], f[7], f[8]})
  end
  if st ~= 'queued' and st ~= 'running' then
    ack[#ack + 1] = entry
  elseif gate == 1 then
    ack[#ack + 1] = entry
    out[i] = -3
  elseif gate == 2 then
    redis.call('HSET', h, 'status', 'running', 'started_at', now, 'worker', ARGV[2])
    out[i] = -2
  elseif f[2] == '1' then
    redis.call('HSET', h, 'status', 'cancelled', 'finished_at', now)
    redis.call('EXPIRE', h, ttl)
    on_terminal(h, id, 'cancelled', now, ttl)
    ack[#ack + 1] = entry
    redis.call('PUBLISH', 'ci:done', id)
  else
    local a = tonumber(f[3] or '0') + 1
    if a > tonumber(ARGV[4]) then
      local err = 'lease expired ' .. (a - 1) .. ' times'
      redis.call('HSET', h, 'status', 'dead', 'attempts', a - 1, 'error', err,
        'finished_at', now)
      redis.call('EXPIRE', h, ttl)
      on_terminal(h, id, 'dead', now, ttl)
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'id', id,
        'job', job_of(s, entry) or '', 'error', err, 'attempts', a - 1)
      ack[#ack + 1] = entry
      redis.call('PUBLISH', 'ci:done', id)
      out[i] = -1
    else
      redis.call('HSET', h, 'status', 'running', 'started_at', now, 'worker', ARGV[2],
        'attempts', a)
      out[i] = a
    end
  end
end
if #ack > 0 then
  redis.call('XACK', s, g, unpack(ack))
  redis.call('XDEL', s, unpack(ack))
end
return out
