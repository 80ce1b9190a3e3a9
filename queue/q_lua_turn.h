/*
 * q_lua_turn.h - Lua of the per-session line: calls of one session run one
 * at a time, in arrival order, on any worker (internal to ci_queue; included
 * by q_lua_hooks.h, so every script that makes a job terminal has it).
 * docs/queue.md ("Sessions: one call at a time") says why it is built so.
 *
 * Keys (beyond a script's KEYS, derived from the job hash: fine on one
 * Redis; a Redis Cluster would need hash tags):
 *
 *   ci:turn:<sid>  sorted set, the session's unfinished calls: member = job
 *                  id, score = ticket (arrival number, taken by the enqueue
 *                  script in the same call that queues the job).  The lowest
 *                  live member holds the turn.  Empty = deleted by Redis
 *                  (the common case: a session without concurrent calls
 *                  creates it at enqueue and loses it at the end); TTL
 *                  JOB_TTL_SECONDS from its creation, a safety net for
 *                  members whose job never ended.
 *   ci:turn:due    sorted set, parked jobs by deadline (ms): member = job id.
 *   job hash       ticket, turn_deadline (created_at + the job's timeout),
 *                  parked (stream to go back to) + parked_job (its bytes)
 *                  while parked, turn_waited = 1 once parked,
 *                  turn_expired = 1 when the sweep woke it at its deadline.
 *
 * The turn belongs to the job, not to a worker: a worker that dies holding
 * it leaves the job pending in its stream, XAUTOCLAIM hands the same job to
 * another worker after the lease, and the start script lets it through
 * again (it still heads the line).  Every terminal transition calls
 * turn_done() through on_terminal (q_lua_hooks.h), in the same script call,
 * so completion, failure, cancel and dead letter all pass the turn on.
 *
 * Functions:
 *   turn_head(z)      the live head of line z; drops members whose job is
 *                     gone (TTL) or already terminal.
 *   turn_wake(id, x)  a parked job goes back to its stream (x: and is marked
 *                     turn_expired); a job not parked is left alone.  A
 *                     job is in ci:turn:due exactly while it is parked.
 *   turn_done(h, id)  job id (hash h) is terminal: leave the line, wake the
 *                     next one if it is parked.
 *   turn_gate(h, id, stream, entry, now, t)
 *                     at start (t = the hash's session_id, ticket,
 *                     turn_deadline, turn_waited, turn_expired): 0 its turn
 *                     (run it), 1 parked (the caller acks its entry), 2 it
 *                     waited past its deadline (do not run it: answer a
 *                     timeout).  Its turn costs one ZRANGE.  Needs job_of() (the job
 *                     bytes of a stream entry) from the including script.
 */
#ifndef Q_LUA_TURN_H
#define Q_LUA_TURN_H

#define Q_LUA_TURN                                                                                 \
    "local function turn_head(z)\n"                                                                \
    "  while true do\n"                                                                            \
    "    local m = redis.call('ZRANGE', z, 0, 0)\n"                                                \
    "    if #m == 0 then return nil end\n"                                                         \
    "    local st = redis.call('HGET', 'ci:job:' .. m[1], 'status')\n"                             \
    "    if st == 'queued' or st == 'running' then return m[1] end\n"                              \
    "    redis.call('ZREM', z, m[1])\n"                                                            \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function turn_wake(id, expired)\n"                                                      \
    "  local h = 'ci:job:' .. id\n"                                                                \
    "  local p = redis.call('HMGET', h, 'parked', 'parked_job')\n"                                 \
    "  if not p[1] then return end\n"                                                              \
    "  redis.call('ZREM', 'ci:turn:due', id)\n"                                                    \
    "  redis.call('HDEL', h, 'parked', 'parked_job')\n"                                            \
    "  if expired then redis.call('HSET', h, 'turn_expired', '1') end\n"                           \
    "  redis.call('XADD', p[1], '*', 'id', id, 'job', p[2] or '')\n"                               \
    "end\n"                                                                                        \
    "local function turn_done(h, id)\n"                                                            \
    "  local f = redis.call('HMGET', h, 'session_id', 'ticket', 'parked')\n"                       \
    "  if not f[2] then return end\n"                                                              \
    "  if f[3] then\n"                                                                             \
    "    redis.call('HDEL', h, 'parked', 'parked_job')\n"                                          \
    "    redis.call('ZREM', 'ci:turn:due', id)\n"                                                  \
    "  end\n"                                                                                      \
    "  local z = 'ci:turn:' .. f[1]\n"                                                             \
    "  redis.call('ZREM', z, id)\n"                                                                \
    "  local head = turn_head(z)\n"                                                                \
    "  if head then turn_wake(head, false) end\n"                                                  \
    "end\n"                                                                                        \
    "local function turn_gate(h, id, stream, entry, now, t)\n"                                     \
    "  if not t[2] then return 0 end\n"                                                            \
    "  local z = 'ci:turn:' .. t[1]\n"                                                             \
    "  local dl = t[3] or '9e15'\n"                                                                \
    "  local late = t[5] == '1' or tonumber(now) >= tonumber(dl)\n"                                \
    "  local m = redis.call('ZRANGE', z, 0, 0)\n"                                                  \
    "  if m[1] ~= id then\n"                                                                       \
    "    if not redis.call('ZSCORE', z, id) then return 0 end\n"                                   \
    "    local head = turn_head(z)\n"                                                              \
    "    if head ~= id then\n"                                                                     \
    "      if late then return 2 end\n"                                                            \
    "      if head then turn_wake(head, false) end\n"                                              \
    "      local job = job_of(stream, entry)\n"                                                    \
    "      if not job then return 0 end\n"                                                         \
    "      redis.call('HSET', h, 'parked', stream, 'parked_job', job, 'turn_waited', '1')\n"       \
    "      redis.call('ZADD', 'ci:turn:due', dl, id)\n"                                            \
    "      return 1\n"                                                                             \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  if t[4] == '1' and late then return 2 end\n"                                                \
    "  return 0\n"                                                                                 \
    "end\n"

#endif
