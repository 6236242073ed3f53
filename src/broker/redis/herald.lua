#!lua name=herald_1
--[[
Herald's server-side functions (docs/protocol.md, "Publishing through Redis").

Every node loads this library at startup, and again after a reconnect, with
FUNCTION LOAD REPLACE. The library's and the functions' names carry the
version (herald_1_*), so nodes of different versions each call their own
functions and never replace each other's. Requires Redis 7.0 or newer.

Times are milliseconds since the epoch by Redis's own clock (TIME).
]]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

--[[
herald_1_publish: publish a message unless its deadline has passed.

A node that gets no reply within its timeout answers its publisher 503
("not published"). Commands already written to a Redis that froze (SIGSTOP, a
stalled VM) would still run when it wakes up; the deadline makes them refuse
instead, so the 503 stays true.

Every function that takes a deadline takes it as ARGV[1]: ms, Redis clock, 0
for none.

KEYS[1]  routing key `{<channel>}`: hash-tagged like the channel, so that in a
         cluster the call runs on the shard that owns the channel; not accessed.
ARGV[1]  deadline
ARGV[2]  channel
ARGV[3]  payload (Herald's JSON envelope)
ARGV[4]  's' to SPUBLISH (cluster, sharded pub/sub), anything else to PUBLISH
Returns 1 when published, 0 when refused because the deadline had passed.
]]
local function too_late(deadline)
  local d = tonumber(deadline)
  return d ~= nil and d > 0 and now_ms() > d
end

local function publish(keys, args)
  if too_late(args[1]) then
    return 0
  end
  if args[4] == 's' then
    redis.call('SPUBLISH', args[2], args[3])
  else
    redis.call('PUBLISH', args[2], args[3])
  end
  return 1
end

redis.register_function('herald_1_publish', publish)
