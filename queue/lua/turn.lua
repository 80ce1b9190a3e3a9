-- turn.lua - Lua of the per-session line: calls of one session run one
-- at a time, in arrival order, on any worker (prepended at build time to
-- on_terminal.lua and so to every script that makes a job terminal, and to
-- turn_due.lua: queue/CMakeLists.txt).
-- docs/queue.md ("Sessions: one call at a time") says why it is built so.
--
-- Keys (beyond a script's KEYS, derived from the job hash: fine on one
-- Redis; a Redis Cluster would need hash tags):
--
--   ci:turn:<sid>  sorted set, the session's unfinished calls: member = job
--                  id, score = ticket (arrival number, taken by the enqueue
--                  script in the same call that queues the job).  The lowest
--                  live member holds the turn.  Empty = deleted by Redis
--                  (the common case: a session without concurrent calls
--                  creates it at enqueue and loses it at the end); TTL
--                  JOB_TTL_SECONDS from its creation, a safety net for
--                  members whose job never ended.
--   ci:turn:due    sorted set, parked jobs by deadline (ms): member = job id.
--   job hash       ticket, turn_deadline (created_at + the job's timeout),
--                  parked (stream to go back to) + parked_job (its bytes)
--                  while parked, turn_waited = 1 once parked,
--                  turn_expired = 1 when the sweep woke it at its deadline.
--
-- The turn belongs to the job, not to a worker: a worker that dies holding
-- it leaves the job pending in its stream, XAUTOCLAIM hands the same job to
-- another worker after the lease, and the start script lets it through
-- again (it still heads the line).  Every terminal transition calls
-- turn_done() through on_terminal (lua/on_terminal.lua), in the same script call,
-- so completion, failure, cancel and dead letter all pass the turn on.
--
-- Functions:
--   turn_head(z)      the live head of line z; drops members whose job is
--                     gone (TTL) or already terminal.
--   turn_wake(id, x)  a parked job goes back to its stream (x: and is marked
--                     turn_expired); a job not parked is left alone.  A
--                     job is in ci:turn:due exactly while it is parked.
--   turn_done(h, id, f)
--                     job id (hash h) is terminal: leave the line, wake the
--                     next one if it is parked.  f: the hash's session_id,
--                     ticket and parked when the caller read them already
--                     (nil: read here).
--   turn_gate(h, id, stream, entry, now, t)
--                     at start (t = the hash's session_id, ticket,
--                     turn_deadline, turn_waited, turn_expired): 0 its turn
--                     (run it), 1 parked (the caller acks its entry), 2 it
--                     waited past its deadline (do not run it: answer a
--                     timeout).  Its turn costs one ZRANGE.  Needs job_of() (the job
--                     bytes of a stream entry) from the including script.
local function turn_head(z)
  while true do
    local m = redis.call('ZRANGE', z, 0, 0)
    if #m == 0 then return nil end
    local st = redis.call('HGET', 'ci:job:' .. m[1], 'status')
    if st == 'queued' or st == 'running' then return m[1] end
    redis.call('ZREM', z, m[1])
  end
end
local function turn_wake(id, expired)
  local h = 'ci:job:' .. id
  local p = redis.call('HMGET', h, 'parked', 'parked_job')
  if not p[1] then return end
  redis.call('ZREM', 'ci:turn:due', id)
  redis.call('HDEL', h, 'parked', 'parked_job')
  if expired then redis.call('HSET', h, 'turn_expired', '1') end
  redis.call('XADD', p[1], '*', 'id', id, 'job', p[2] or '')
end
local function turn_done(h, id, f)
  f = f or redis.call('HMGET', h, 'session_id', 'ticket', 'parked')
  if not f[2] then return end
  if f[3] then
    redis.call('HDEL', h, 'parked', 'parked_job')
    redis.call('ZREM', 'ci:turn:due', id)
  end
  local z = 'ci:turn:' .. f[1]
  redis.call('ZREM', z, id)
  local head = turn_head(z)
  if head then turn_wake(head, false) end
end
local function turn_gate(h, id, stream, entry, now, t)
  if not t[2] then return 0 end
  local z = 'ci:turn:' .. t[1]
  local dl = t[3] or '9e15'
  local late = t[5] == '1' or tonumber(now) >= tonumber(dl)
  local m = redis.call('ZRANGE', z, 0, 0)
  if m[1] ~= id then
    if not redis.call('ZSCORE', z, id) then return 0 end
    local head = turn_head(z)
    if head ~= id then
      if late then return 2 end
      if head then turn_wake(head, false) end
      local job = job_of(stream, entry)
      if not job then return 0 end
      redis.call('HSET', h, 'parked', stream, 'parked_job', job, 'turn_waited', '1')
      redis.call('ZADD', 'ci:turn:due', dl, id)
      return 1
    end
  end
  if t[4] == '1' and late then return 2 end
  return 0
end
