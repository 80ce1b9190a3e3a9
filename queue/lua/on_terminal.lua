-- on_terminal.lua - Lua run inside every terminal transition of a job
-- (prepended to the scripts that use it at build time: queue/CMakeLists.txt).
--
-- on_terminal(h, id, st, now, ttl, pre) is called by the complete, start
-- (cancelled / dead), fail (dead) and cancel scripts in the same script call
-- that makes the job terminal.  pre: the hash's session_id, ticket, parked,
-- callback_url, batch and owner when the caller read them already in its own
-- HMGET (the complete script: two commands less per job), nil to read them
-- here.  Because a job becomes terminal exactly once
-- (first write wins), and this runs atomically with that write, a crash can
-- neither lose nor duplicate what it records:
--
--   - the job has a callback_url: a webhook delivery "job_<id>" is created
--     (ci:webhook:<wid> hash + member of ci:webhooks:due at score now) and
--     the job hash gets webhook_id / webhook_status pending;
--   - the job belongs to a batch: the id is SADDed to ci:batch:<b>:done; only
--     when that adds it (idempotent per job) are n_<status> and done counted
--     up; the call that brings done to total stamps completed_at and, when the
--     batch has a callback_url, creates the "batch_<b>" delivery;
--   - the job holds a ticket of its session's line: it leaves the line and
--     the next call of the session gets its turn (turn_done, lua/turn.lua).
--
-- Keys touched beyond the script's KEYS are derived from the job hash (fine
-- on a single Redis; Redis Cluster would need hash tags, see docs/webhooks.md).
local function wh_create(wid, typ, subject, owner, url, now, ttl, mirror)
  local w = 'ci:webhook:' .. wid
  if redis.call('EXISTS', w) == 1 then return end
  redis.call('HSET', w, 'type', typ, 'subject', subject, 'owner', owner or '', 'url', url,
    'created_at', now, 'attempts', 0, 'status', 'pending')
  redis.call('EXPIRE', w, ttl)
  redis.call('ZADD', 'ci:webhooks:due', now, wid)
  redis.call('HSET', mirror, 'webhook_id', wid, 'webhook_status', 'pending',
    'webhook_attempts', 0)
end
local function on_terminal(h, id, st, now, ttl, pre)
  local f
  if pre then
    turn_done(h, id, {pre[1], pre[2], pre[3]})
    f = {pre[4], pre[5], pre[6]}
  else
    turn_done(h, id)
    f = redis.call('HMGET', h, 'callback_url', 'batch', 'owner')
  end
  if f[1] and f[1] ~= '' then
    wh_create('job_' .. id, 'job.completed', id, f[3], f[1], now, ttl, h)
  end
  if f[2] and f[2] ~= '' then
    local b = 'ci:batch:' .. f[2]
    if redis.call('SADD', b .. ':done', id) == 1 then
      redis.call('EXPIRE', b .. ':done', ttl)
      redis.call('HINCRBY', b, 'n_' .. st, 1)
      local n = redis.call('HINCRBY', b, 'done', 1)
      local bf = redis.call('HMGET', b, 'total', 'callback_url', 'owner')
      if bf[1] and n == tonumber(bf[1]) then
        redis.call('HSET', b, 'completed_at', now)
        if bf[2] and bf[2] ~= '' then
          wh_create('batch_' .. f[2], 'batch.completed', f[2], bf[3], bf[2], now, ttl, b)
        end
      end
    end
  end
end
