-- A closing worker gives a job back unfinished. ARGV: 3 job id, 4 lock token, 5 now.
-- Returns the waiting count, or -1 if the worker no longer holds the lock.
local id = ARGV[3]
if not holds_lock(id, ARGV[4]) then return -1 end
redis.call("ZREM", ACTIVE, id)
redis.call("HDEL", JOB .. id, "lock_token")
enqueue(id, true)
emit("waiting", id, ARGV[5])
return waiting_count()
