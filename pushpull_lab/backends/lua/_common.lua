-- Shared by every script (prepended to it). Every script gets the same KEYS, in this order:
local WAIT, PRIORITIZED, DELAYED, ACTIVE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local COMPLETED, FAILED, META, EVENTS, MARKER, IDS = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local JOB = ARGV[1]               -- prefix of the job hashes, e.g. "ppl:q:job:"
local EVENT_LOG_LIMIT = ARGV[2]   -- the event stream keeps about this many entries
local PRIORITY_SHIFT = 4294967296 -- prioritized score = priority * 2^32 + arrival number

-- Times are passed in from Python as text and stored as text, never computed here,
-- so they keep every digit of the lab clock.

local function waiting_count()
  return redis.call("LLEN", WAIT) + redis.call("ZCARD", PRIORITIZED)
end

-- Append one entry to the event log: the state change and its event are one atomic step.
local function emit(event, job_id, now, ...)
  redis.call("XADD", EVENTS, "MAXLEN", "~", EVENT_LOG_LIMIT, "*",
    "event", event, "job_id", job_id, "time", now, ...)
end

-- Put a job (back) among the waiting: the list if it has no priority, else the sorted set;
-- then leave a hint on the marker list, which wakes one worker blocked on it.
local function enqueue(id, front)
  local key = JOB .. id
  local priority = tonumber(redis.call("HGET", key, "priority"))
  if priority == 0 then
    if front then redis.call("LPUSH", WAIT, id) else redis.call("RPUSH", WAIT, id) end
  else
    local seq = tonumber(redis.call("HGET", key, "seq"))
    redis.call("ZADD", PRIORITIZED, string.format("%.0f", priority * PRIORITY_SHIFT + seq), id)
  end
  redis.call("HSET", key, "state", "waiting")
  redis.call("HDEL", key, "due")
  redis.call("RPUSH", MARKER, "1")
end

-- Is the job active and locked by this worker's token?
local function holds_lock(id, token)
  return redis.call("ZSCORE", ACTIVE, id) and redis.call("HGET", JOB .. id, "lock_token") == token
end

-- Sort {id, score} pairs by score, then by arrival (a sorted set breaks ties by the id's text).
local function by_score_then_arrival(flat)
  local items = {}
  for i = 1, #flat, 2 do
    items[#items + 1] = {flat[i], tonumber(flat[i + 1]), tonumber(redis.call("HGET", JOB .. flat[i], "seq"))}
  end
  table.sort(items, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  return items
end
