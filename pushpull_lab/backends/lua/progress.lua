-- A processor reports progress. ARGV: 3 job id, 4 lock token, 5 now, 6 progress (JSON).
-- Returns 1, or -1 if the worker no longer holds the lock.
local id = ARGV[3]
if not holds_lock(id, ARGV[4]) then return -1 end
redis.call("HSET", JOB .. id, "progress", ARGV[6])
emit("progress", id, ARGV[5], "progress", ARGV[6])
return 1
