-- Delete every waiting job, and the delayed ones if ARGV[3] is "1". Returns how many.
local ids = redis.call("LRANGE", WAIT, 0, -1)
for _, id in ipairs(redis.call("ZRANGE", PRIORITIZED, 0, -1)) do ids[#ids + 1] = id end
if ARGV[3] == "1" then
  for _, id in ipairs(redis.call("ZRANGE", DELAYED, 0, -1)) do ids[#ids + 1] = id end
  redis.call("DEL", DELAYED)
end
for _, id in ipairs(ids) do redis.call("DEL", JOB .. id) end
redis.call("DEL", WAIT, PRIORITIZED, MARKER)
return #ids
