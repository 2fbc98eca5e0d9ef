-- A worker extends the locks of the jobs it is processing (its heartbeat).
-- ARGV: 3 lock token, 4 new deadline, 5... job ids. Returns the ids whose lock was lost.
local lost = {}
for i = 5, #ARGV do
  if holds_lock(ARGV[i], ARGV[3]) then
    redis.call("ZADD", ACTIVE, "XX", ARGV[4], ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
