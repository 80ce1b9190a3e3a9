-- Infrastructure failure of one delivery: retry, dead-letter or defer.
-- KEYS: stream, ci:dead, hash.
-- ARGV: group, worker, entry, id, error, max_attempts, now, ttl, mode
-- (0 retry until max_attempts then dead, 1 dead now, 2 defer: requeue and
-- give the attempt back - the failure was not the job's), dead_max (ci:dead
-- is trimmed to about that many entries).
-- Returns 1 requeued, 2 dead, 0 nothing to do (terminal, or already
-- handled: idempotent on replay), -2 lease lost (another worker runs it).
local s, h, g, entry, id = KEYS[1], KEYS[3], ARGV[1], ARGV[3], ARGV[4]
local st = redis.call('HGET', h, 'status')
if st ~= 'queued' and st ~= 'running' then
  redis.call('XACK', s, g, entry)
  redis.call('XDEL', s, entry)
  return 0
end
if ARGV[9] ~= '1' and redis.call('HGET', h, 'worker') ~= ARGV[2] then return -2 end
local job = job_of(s, entry)
if not job then return 0 end
local a = tonumber(redis.call('HGET', h, 'attempts') or '0')
redis.call('XACK', s, g, entry)
redis.call('XDEL', s, entry)
if ARGV[9] == '2' and a > 0 then
  a = a - 1
  redis.call('HSET', h, 'attempts', a)
end
if ARGV[9] == '2' or (ARGV[9] ~= '1' and a < tonumber(ARGV[6])) then
  redis.call('HSET', h, 'status', 'queued', 'error', ARGV[5])
  redis.call('XADD', s, '*', 'id', id, 'job', job)
  return 1
end
redis.call('HSET', h, 'status', 'dead', 'error', ARGV[5], 'finished_at', ARGV[7])
redis.call('EXPIRE', h, ARGV[8])
on_terminal(h, id, 'dead', ARGV[7], ARGV[8])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[10], '*', 'id', id, 'job', job,
  'error', ARGV[5], 'attempts', a)
redis.call('PUBLISH', 'ci:done', id)
return 2
