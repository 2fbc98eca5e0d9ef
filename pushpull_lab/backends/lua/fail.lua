-- The processor raised. ARGV: 3 job id, 4 lock token, 5 now, 6 reason, 7 retry time ("" = no retry).
-- Returns {new state, waiting count}; the state is "lost" if the worker no longer holds the lock.
local id = ARGV[3]
local key = JOB .. id
local now = ARGV[5]
if not holds_lock(id, ARGV[4]) then return {"lost", 0} end
redis.call("ZREM", ACTIVE, id)
local made = redis.call("HINCRBY", key, "attempts_made", 1)
redis.call("HSET", key, "failed_reason", ARGV[6])
redis.call("HDEL", key, "lock_token")
if ARGV[7] == "" then
  redis.call("ZADD", FAILED, now, id)
  redis.call("HSET", key, "state", "failed", "finished_at", now)
  emit("failed", id, now, "failed_reason", ARGV[6], "attempts_made", made)
  return {"failed", waiting_count()}
elseif tonumber(ARGV[7]) <= tonumber(now) then
  enqueue(id, false)
  emit("waiting", id, now, "failed_reason", ARGV[6], "attempts_made", made)
  return {"waiting", waiting_count()}
end
redis.call("ZADD", DELAYED, ARGV[7], id)
redis.call("HSET", key, "state", "delayed", "due", ARGV[7])
redis.call("RPUSH", MARKER, "1")
emit("delayed", id, now, "due", ARGV[7], "failed_reason", ARGV[6], "attempts_made", made)
return {"delayed", waiting_count()}
