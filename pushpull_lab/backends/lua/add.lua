-- Add a job. ARGV: 3 job id ("" = automatic), 4 name, 5 data (JSON), 6 priority,
-- 7 attempts, 8 backoff (JSON or ""), 9 now, 10 due time ("" = not delayed).
-- Returns {id, created (1/0), waiting count, the job's hash}.
local id = ARGV[3]
if id ~= "" and redis.call("EXISTS", JOB .. id) == 1 then
  return {id, 0, waiting_count(), redis.call("HGETALL", JOB .. id)}   -- de-duplicated
end
local seq = redis.call("INCR", IDS)
if id == "" then id = tostring(seq) end
local key = JOB .. id
redis.call("HSET", key, "id", id, "name", ARGV[4], "data", ARGV[5], "priority", ARGV[6],
  "attempts", ARGV[7], "added_at", ARGV[9], "attempts_made", 0, "stalled_count", 0, "seq", seq)
if ARGV[8] ~= "" then redis.call("HSET", key, "backoff", ARGV[8]) end
if ARGV[10] ~= "" then
  redis.call("HSET", key, "state", "delayed", "due", ARGV[10])
  redis.call("ZADD", DELAYED, ARGV[10], id)
  redis.call("RPUSH", MARKER, "1")   -- a blocked worker wakes up and shortens its wait
  emit("delayed", id, ARGV[9], "due", ARGV[10])
else
  enqueue(id, false)
  emit("waiting", id, ARGV[9])
end
return {id, 1, waiting_count(), redis.call("HGETALL", key)}
