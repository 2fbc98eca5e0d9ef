-- A worker pulls one job. ARGV: 3 now, 4 now plus a rounding margin, 5 lock token, 6 lock deadline.
-- Returns {job id or "", waiting count, next due time or "", {promoted id, waiting, ...}, job hash}.
local now = ARGV[3]
-- 1. Delayed jobs that are due become waiting.
local promoted = {}
local due = redis.call("ZRANGEBYSCORE", DELAYED, "-inf", ARGV[4], "WITHSCORES")
for _, item in ipairs(by_score_then_arrival(due)) do
  redis.call("ZREM", DELAYED, item[1])
  enqueue(item[1], false)
  emit("waiting", item[1], now)
  promoted[#promoted + 1] = item[1]
  promoted[#promoted + 1] = waiting_count()
end
local next_due = redis.call("ZRANGE", DELAYED, 0, 0, "WITHSCORES")[2] or ""
-- 2. A paused queue hands out nothing.
if redis.call("HEXISTS", META, "paused") == 1 then
  redis.call("DEL", MARKER)
  return {"", waiting_count(), next_due, promoted}
end
-- 3. The next job: jobs without priority first (oldest first), then by priority.
local id = redis.call("LPOP", WAIT)
if not id then id = redis.call("ZPOPMIN", PRIORITIZED)[1] end
if not id then
  redis.call("DEL", MARKER)
  return {"", 0, next_due, promoted}
end
-- 4. It becomes active, locked by this worker until the deadline (a score, not a key expiry).
local key = JOB .. id
redis.call("ZADD", ACTIVE, ARGV[6], id)
redis.call("HSET", key, "state", "active", "started_at", now, "lock_token", ARGV[5])
emit("active", id, now)
local left = waiting_count()
if left == 0 then
  redis.call("DEL", MARKER)
  emit("drained", "", now)
end
return {id, left, next_due, promoted, redis.call("HGETALL", key)}
