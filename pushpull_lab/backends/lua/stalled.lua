-- Jobs whose lock deadline passed (their worker died or hung) go back to the front of the
-- waiting jobs, in their original order. ARGV: 3 now.
-- Returns {id, waiting count after it, ...}.
local now = ARGV[3]
local items = by_score_then_arrival(redis.call("ZRANGEBYSCORE", ACTIVE, "-inf", "(" .. now, "WITHSCORES"))
local before = waiting_count()
for _, item in ipairs(items) do
  redis.call("ZREM", ACTIVE, item[1])
  redis.call("HINCRBY", JOB .. item[1], "stalled_count", 1)
  redis.call("HDEL", JOB .. item[1], "lock_token")
  emit("stalled", item[1], now)
end
for i = #items, 1, -1 do enqueue(items[i][1], true) end
local out = {}
for i, item in ipairs(items) do
  emit("waiting", item[1], now)
  out[#out + 1] = item[1]
  out[#out + 1] = before + i
end
return out
