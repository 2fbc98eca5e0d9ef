-- Pause ("1") or resume ("0") the queue. ARGV: 3 now, 4 "1" or "0".
if ARGV[4] == "1" then
  redis.call("HSET", META, "paused", "1")
  emit("paused", "", ARGV[3])
else
  redis.call("HDEL", META, "paused")
  local n = math.min(waiting_count(), 1000)   -- wake as many blocked workers as there is work
  for _ = 1, n do redis.call("RPUSH", MARKER, "1") end
  emit("resumed", "", ARGV[3])
end
return 1
