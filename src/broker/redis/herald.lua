#!lua name=herald_1
--[[
Herald's server-side functions (docs/protocol.md, "Publishing through Redis"
and "History in Redis").

Every node loads this library at startup, and again after a reconnect, with
FUNCTION LOAD REPLACE. The library's and the functions' names carry the
version (herald_1_*), so nodes of different versions each call their own
functions and never replace each other's. Requires Redis 7.0 or newer.

Times are milliseconds since the epoch. Every function that takes a deadline
takes it as ARGV[1] (Redis clock; 0 or empty for none): a node that got no
reply within its timeout answered its publisher 503 ("not published"), and
commands already written to a Redis that froze (SIGSTOP, a stalled VM) would
still run when it wakes up; the deadline makes them refuse instead, so the
503 stays true.

Keys of a topic share the hash slot of its channel `<prefix>:<topic>`: they
are `{<prefix>:<topic>}:<kind>`, so a cluster runs every call on the shard
that owns the channel, and SPUBLISH inside the call stays on that shard.
  {…}:s  stream of stored messages, IDs `<offset>-0`, fields d (data) t (ts)
  {…}:m  hash: e (epoch), o (top offset)
  {…}:i:<key>  idempotency record: "<offset>:<epoch>", or "1" without history
]]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function too_late(deadline)
  local d = tonumber(deadline)
  return d ~= nil and d > 0 and now_ms() > d
end

local function publish_on(channel, payload, kind)
  if kind == 's' then
    redis.call('SPUBLISH', channel, payload)
  else
    redis.call('PUBLISH', channel, payload)
  end
end

local function present(value)
  return value ~= nil and value ~= ''
end

--[[
herald_1_publish: publish a message on a topic without history.

KEYS[1]  `{<channel>}`: the routing key (not accessed)
KEYS[2]  optional idempotency record
ARGV[1]  deadline
ARGV[2]  channel
ARGV[3]  payload (Herald's JSON envelope)
ARGV[4]  's' to SPUBLISH (cluster, sharded pub/sub), else PUBLISH
ARGV[5]  idempotency window in ms (with KEYS[2])
Returns 1 published, 0 refused (deadline passed), 2 not published again
(the idempotency key was used within its window).
]]
local function publish(keys, args)
  if too_late(args[1]) then
    return 0
  end
  local idem = keys[2]
  if idem ~= nil and redis.call('EXISTS', idem) == 1 then
    return 2
  end
  publish_on(args[2], args[3], args[4])
  if idem ~= nil then
    redis.call('SET', idem, '1', 'PX', args[5])
  end
  return 1
end

-- The topic's epoch, creating its position (offset 0) if there is none. A
-- stream left without its position belongs to a lost epoch and is dropped.
local function epoch_of(stream, meta, new_epoch, meta_ttl)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    if present(new_epoch) then
      epoch = new_epoch
    else
      local t = redis.call('TIME')
      epoch = string.format('%x%x', tonumber(t[1]), tonumber(t[2]))
    end
    redis.call('HSET', meta, 'e', epoch, 'o', 0)
    redis.call('DEL', stream)
  end
  redis.call('PEXPIRE', meta, meta_ttl)
  return epoch
end

--[[
herald_1_history_publish: assign the next offset, store, publish; one atomic step.

KEYS[1]  stream   {<channel>}:s
KEYS[2]  position {<channel>}:m
KEYS[3]  optional idempotency record {<channel>}:i:<key>
ARGV[1]  deadline
ARGV[2]  channel
ARGV[3]  data, JSON text
ARGV[4]  ts in ms (empty: now)
ARGV[5]  size: messages kept
ARGV[6]  ttl of the stream in ms
ARGV[7]  ttl of the position in ms
ARGV[8]  's' to SPUBLISH, else PUBLISH
ARGV[9]  epoch to use if the topic has none yet (empty: made from TIME)
ARGV[10] idempotency window in ms (with KEYS[3])
ARGV[11] 'validated' when the caller (a Herald node) already checked that data
         is JSON nested at most 64 levels; otherwise this function checks it
         and refuses anything else with an error, so that stored history is
         always deliverable
Returns {1, offset, epoch} published, {0} refused (deadline passed),
{2, offset, epoch} not published again (the idempotency key was used; the
original position).
]]
local function check_data(data)
  cjson.decode_max_depth(64)
  cjson.decode_invalid_numbers(false)
  local ok = pcall(cjson.decode, data)
  if not ok then
    return redis.error_reply('ERR herald: data is not JSON nested at most 64 levels deep')
  end
  return nil
end

local function history_publish(keys, args)
  if too_late(args[1]) then
    return {0}
  end
  if args[11] ~= 'validated' then
    local bad = check_data(args[3])
    if bad then
      return bad
    end
  end
  local stream, meta, idem = keys[1], keys[2], keys[3]
  if idem ~= nil then
    local seen = redis.call('GET', idem)
    if seen then
      local colon = string.find(seen, ':', 1, true)
      return {2, tonumber(string.sub(seen, 1, colon - 1)), string.sub(seen, colon + 1)}
    end
  end
  local ts = args[4]
  if not present(ts) then
    ts = tostring(now_ms())
  end
  local epoch = epoch_of(stream, meta, args[9], args[7])
  local offset = redis.call('HINCRBY', meta, 'o', 1)
  redis.call('XADD', stream, 'MAXLEN', args[5], offset .. '-0', 'd', args[3], 't', ts)
  redis.call('PEXPIRE', stream, args[6])
  publish_on(args[2], '{"ts":' .. ts .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '","data":' .. args[3] .. '}', args[8])
  if idem ~= nil then
    redis.call('SET', idem, offset .. ':' .. epoch, 'PX', args[10])
  end
  return {1, offset, epoch}
end

--[[
herald_1_read: the topic's position and stored messages, read together.

KEYS[1]  stream, KEYS[2] position (as above)
ARGV[1]  'after' (messages with offset > ARGV[2], at most ARGV[3]),
         'last' (the ARGV[2] newest) or 'position' (no messages)
ARGV[2]  offset or count
ARGV[3]  limit (for 'after')
ARGV[4]  oldest ts still kept (now - ttl): older messages are expired and
         skipped, as a prefix, so what is returned is always contiguous
ARGV[5]  epoch to use if the topic has none yet, ARGV[6] ttl of the position
Returns {epoch, top, offset1, data1, ts1, offset2, data2, ts2, ...}, oldest first.
]]
local function read(keys, args)
  local stream, meta = keys[1], keys[2]
  local epoch = epoch_of(stream, meta, args[5], args[6])
  local top = tonumber(redis.call('HGET', meta, 'o'))
  local entries
  if args[1] == 'position' then
    entries = {}
  elseif args[1] == 'last' then
    local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', args[2])
    entries = {}
    for i = #newest, 1, -1 do
      entries[#entries + 1] = newest[i]
    end
  else
    entries = redis.call('XRANGE', stream, (tonumber(args[2]) + 1) .. '-0', '+', 'COUNT', args[3])
  end
  local oldest = tonumber(args[4]) or 0
  local reply = {epoch, top}
  local keeping = false
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local data, ts
    for f = 1, #fields, 2 do
      if fields[f] == 'd' then
        data = fields[f + 1]
      elseif fields[f] == 't' then
        ts = fields[f + 1]
      end
    end
    keeping = keeping or (tonumber(ts) or 0) >= oldest
    if keeping then
      reply[#reply + 1] = tonumber(string.match(entry[1], '^(%d+)'))
      reply[#reply + 1] = data
      reply[#reply + 1] = ts
    end
  end
  return reply
end

--[[
Presence. Per presence topic, four keys in the slot of its channel:
  {…}:pe  hash    "<node> <sub>" → "<connections> <info JSON or nothing>":
                  one entry per user per node, kept by that node
  {…}:px  zset    the same members, scored by when they expire (ms): a node
                  that dies stops refreshing them, and they go by themselves
  {…}:pu  hash    sub → how many nodes have an entry for it: a user's first
                  entry is their join, the removal of their last their leave
  {…}:pn  string  connections in all entries
Join and leave events are published on the topic's channel as
  {"event":"join"|"leave","sub":"<sub>","info":<JSON>}
when the topic announces them. Times are Redis's (TIME), so nodes whose
clocks differ agree on what has expired.
]]
local function presence_event(channel, kind, event, sub, info)
  local payload = '{"event":"' .. event .. '","sub":' .. cjson.encode(sub)
  if present(info) then
    payload = payload .. ',"info":' .. info
  end
  publish_on(channel, payload .. '}', kind)
end

local function split_entry(value)
  local space = string.find(value, ' ', 1, true)
  return tonumber(string.sub(value, 1, space - 1)) or 0, string.sub(value, space + 1)
end

local function sub_of(member)
  return string.sub(member, string.find(member, ' ', 1, true) + 1)
end

local function drop_entry(keys, member, announce, channel, kind)
  local value = redis.call('HGET', keys[1], member)
  redis.call('HDEL', keys[1], member)
  redis.call('ZREM', keys[2], member)
  if not value then
    return
  end
  local connections, info = split_entry(value)
  redis.call('DECRBY', keys[4], connections)
  local sub = sub_of(member)
  if redis.call('HINCRBY', keys[3], sub, -1) <= 0 then
    redis.call('HDEL', keys[3], sub)
    if announce then
      presence_event(channel, kind, 'leave', sub, info)
    end
  end
end

local function drop_expired(keys, now, announce, channel, kind)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', keys[2], '-inf', now)) do
    drop_entry(keys, member, announce, channel, kind)
  end
end

--[[
herald_1_presence: one node sets (and refreshes) its entries of one topic;
expired entries of every node are dropped on the way.

KEYS     pe px pu pn (as above)
ARGV[1]  node id (no spaces)
ARGV[2]  ttl in ms of the entries set by this call
ARGV[3]  channel, ARGV[4] 's' to SPUBLISH else PUBLISH
ARGV[5]  '1' to announce joins and leaves on the channel
ARGV[6]  n, then n times: sub, connections (0 removes the entry), info (JSON text or empty)
Returns the number of entries this node has in the topic afterwards.
]]
local function presence(keys, args)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local node, ttl, channel, kind = args[1], tonumber(args[2]), args[3], args[4]
  local announce = args[5] == '1'
  drop_expired(keys, now, announce, channel, kind)
  local n = tonumber(args[6])
  for i = 0, n - 1 do
    local sub, connections, info = args[7 + i * 3], tonumber(args[8 + i * 3]), args[9 + i * 3]
    local member = node .. ' ' .. sub
    if connections <= 0 then
      drop_entry(keys, member, announce, channel, kind)
    else
      local previous = redis.call('HGET', keys[1], member)
      redis.call('HSET', keys[1], member, connections .. ' ' .. info)
      redis.call('ZADD', keys[2], now + ttl, member)
      if previous then
        redis.call('INCRBY', keys[4], connections - split_entry(previous))
      else
        redis.call('INCRBY', keys[4], connections)
        if redis.call('HINCRBY', keys[3], sub, 1) == 1 and announce then
          presence_event(channel, kind, 'join', sub, info)
        end
      end
    end
  end
  -- A topic nobody refreshes any more leaves nothing behind.
  for _, key in ipairs(keys) do
    redis.call('PEXPIRE', key, ttl * 3)
  end
  return redis.call('HLEN', keys[1])
end

--[[
herald_1_presence_read: who is in a topic, after dropping expired entries.

KEYS     pe px pu pn
ARGV[1]  'list' or 'count', ARGV[2] channel, ARGV[3] 's' or 'p', ARGV[4] '1' to announce leaves
Returns for 'list' the entries {member, value, member, value, ...};
for 'count' {users, connections}.
]]
local function presence_read(keys, args)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  drop_expired(keys, now, args[4] == '1', args[2], args[3])
  if args[1] == 'count' then
    return {redis.call('HLEN', keys[3]), tonumber(redis.call('GET', keys[4]) or '0')}
  end
  return redis.call('HGETALL', keys[1])
end

redis.register_function('herald_1_publish', publish)
redis.register_function('herald_1_presence', presence)
redis.register_function('herald_1_presence_read', presence_read)
redis.register_function('herald_1_history_publish', history_publish)
redis.register_function('herald_1_read', read)
