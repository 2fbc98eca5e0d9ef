-- The processor returned. ARGV: 3 job id, 4 lock token, 5 now, 6 result (JSON).
-- Returns the waiting count, or -1 if the worker no longer holds the job's lock.
local id = ARGV[3]
local key = JOB .. id
if not holds_lock(id, ARGV[4]) then return -1 end
redis.call("ZREM", ACTIVE, id)
redis.call("ZADD", COMPLETED, ARGV[5], id)
local made = redis.call("HINCRBY", key, "attempts_made", 1)
redis.call("HSET", key, "state", "completed", "finished_at", ARGV[5], "result", ARGV[6])
redis.call("HDEL", key, "lock_token")
emit("completed", id, ARGV[5], "result", ARGV[6], "attempts_made", made)
return waiting_count()
