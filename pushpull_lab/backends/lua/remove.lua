-- Delete one job that is not being processed. ARGV: 3 job id, 4 now.
-- Returns "removed", "missing" or "active".
local id = ARGV[3]
local state = redis.call("HGET", JOB .. id, "state")
if not state then return "missing" end
if state == "active" then return "active" end
redis.call("LREM", WAIT, 0, id)
redis.call("ZREM", PRIORITIZED, id)
redis.call("ZREM", DELAYED, id)
redis.call("ZREM", COMPLETED, id)
redis.call("ZREM", FAILED, id)
redis.call("DEL", JOB .. id)
emit("removed", id, ARGV[4])
return "removed"
