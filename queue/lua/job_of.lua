-- job_of.lua - the job bytes of a stream entry (scripts that dead-letter).
local function job_of(stream, entry)
  local e = redis.call('XRANGE', stream, entry, entry)
  if #e == 0 then return nil end
  local f = e[1][2]
  for j = 1, #f, 2 do if f[j] == 'job' then return f[j + 1] end end
  return ''
end
