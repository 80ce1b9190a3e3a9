-- KEYS: ci:webhook:<wid>, ci:webhooks:due.  ARGV: wid, subject, owner, url,
-- now.  As lua/on_terminal.lua's wh_create, without the job-hash mirror (that
-- is job.completed's).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'type', 'job.tool_call_required', 'subject', ARGV[2],
  'owner', ARGV[3], 'url', ARGV[4], 'created_at', ARGV[5], 'attempts', 0,
  'status', 'pending')
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
