"""Lua scripts: each multi-step change of the shared state is one atomic step in Redis.

Times come from Redis (`TIME`), so workers on machines with skewed clocks agree on
lease deadlines and rate-limit buckets; lease deadlines on a clock that a step of Redis's own
wall clock cannot move (NOW_MS).
"""

# Score of an entry: -priority * 2^40 + sequence, so higher priority first and FIFO within
# a priority (doubles are exact below 2^53).
# The cluster's clock, in ms, for lease deadlines and idleness: Redis's TIME is the wall clock of its host, and
# a step of it (an NTP correction, a VM restored) expired every lease at once (forward) or kept a dead worker's
# leases for as long (back). So time goes on only by the steps TIME takes between two calls, none backwards and
# at most MAX_STEP_MS forwards: workers call at least every heartbeat while leases exist. After a longer
# silence (no worker at all) the clock loses the rest of it once: leases left by dead workers then return
# that much later. The clock is the script's last key (each caller adds Keys.clock).
MAX_STEP_MS = 30_000
NOW_MS = (
    "local t = redis.call('TIME'); local raw = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local clock = redis.call('HMGET', KEYS[#KEYS], 'raw', 'now')\n"
    "local now = raw\n"
    "if clock[1] and clock[2] then\n"
    "  local step = math.max(0, math.min(raw - tonumber(clock[1]), " + str(MAX_STEP_MS) + "))\n"
    "  now = tonumber(clock[2]) + step\n"
    "end\n"
    "redis.call('HSET', KEYS[#KEYS], 'raw', raw, 'now', now)\n"
)

# A lease is handed out as `id@token`: the token (the worker's, and Redis's time in ms) is kept beside it,
# and an acknowledgement, renewal or release acts only where the lease is still that one. Entry ids are a
# counter that a Redis which lost its last writes (a crash with appendfsync everysec, a failover to a
# replica behind) hands out again; the time does not go back, so a worker still holding an old lease can
# neither delete nor extend the request that now has its number. An entry without a token (a worker of an
# earlier version, during a rolling upgrade) is taken as it is.
HELD_ID = """
local function held_id(entry, tokens)
  local id, token = string.match(entry, '^(%d+)@(.+)$')
  if not id then return entry end
  if redis.call('HGET', tokens, id) == token then return id end
  return nil
end
"""

# One round trip per page: what a worker has to say to the shared queue since its
# last call — acknowledgements, new requests — and its next lease, as one atomic step. A
# worker that dies between two calls leaves its last leases unacknowledged and their children
# unqueued, both together: the pages are fetched again and their children queued then.
# Safe to repeat: the reply is kept (for a lease's time, from a second to a minute) under the call's own key, and
# the same call again — a reply lost to a stall past the socket timeout, then tried again — gets that reply
# instead of queueing a `dont_filter` request twice and leaving the first call's leases to nobody.
# KEYS: queue, payloads, sequence, idle_since, fingerprints, leases, attempts, tokens, this call's reply, clock
# ARGV: lease ms, entries to lease, leases the worker holds, the worker's token, number of acks, acks...,
#       then per request: mode (set|bloom|none), fingerprint, priority, payload, hop count ('' = none;
#       see gmwcrawler/incremental/dupefilter.py), number of bloom bit offsets, offsets...
# Returns {queued entry id or 0 (seen before) per request, leased (id@token, payload) pairs flattened}.
# In set mode the fingerprints are a hash: fingerprint -> smallest hop count seen.
SYNC = NOW_MS + HELD_ID + """
local answered = redis.call('GET', KEYS[9])
if answered then return cjson.decode(answered) end
local nacks = tonumber(ARGV[5])
for i = 6, 5 + nacks do
  local id = held_id(ARGV[i], KEYS[8])
  if id then
    redis.call('ZREM', KEYS[6], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[7], id)
    redis.call('HDEL', KEYS[8], id)
  end
end
local queued = {}
local i = 6 + nacks
while i <= #ARGV do
  local mode, fingerprint, hops_arg, noffsets = ARGV[i], ARGV[i + 1], ARGV[i + 4], tonumber(ARGV[i + 5])
  local new = 1
  if mode == 'set' then
    local hops = tonumber(hops_arg) or 0
    local known = redis.call('HGET', KEYS[5], fingerprint)
    if known and (hops_arg == '' or tonumber(known) <= hops) then
      new = 0
    else
      redis.call('HSET', KEYS[5], fingerprint, hops)
    end
  elseif mode == 'bloom' then
    new = 0
    for j = i + 6, i + 5 + noffsets do
      if redis.call('SETBIT', KEYS[5], tonumber(ARGV[j]), 1) == 0 then new = 1 end
    end
  end
  if new == 1 then
    local id = redis.call('INCR', KEYS[3])
    redis.call('HSET', KEYS[2], id, ARGV[i + 3])
    redis.call('ZADD', KEYS[1], -tonumber(ARGV[i + 2]) * 1099511627776 + id, id)
    redis.call('DEL', KEYS[4])
    table.insert(queued, id)
  else
    table.insert(queued, 0)
  end
  i = i + 6 + noffsets
end
local leased = {}
local held = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
    -- an entry whose lease expired before (a suspect: REQUEUE) goes only to a worker that holds nothing else,
    -- alone: if it kills that worker too, no innocent entry shares its count (GMW_MAX_ATTEMPTS)
    local suspect = redis.call('HEXISTS', KEYS[7], id) == 1
    if suspect and held + #leased / 2 > 0 then break end
    redis.call('ZREM', KEYS[1], id)
    local payload = redis.call('HGET', KEYS[2], id)
    if payload then
      local token = ARGV[4] .. '.' .. raw  -- Redis's own time: after a rollback of the clock too, never a token again
      redis.call('ZADD', KEYS[6], now + tonumber(ARGV[1]), id)
      redis.call('HSET', KEYS[8], id, token)
      table.insert(leased, id .. '@' .. token)
      table.insert(leased, payload)
    end
    if suspect then break end
  end
end
local reply = {queued, leased}
redis.call('SET', KEYS[9], cjson.encode(reply), 'PX', math.max(1000, math.min(tonumber(ARGV[1]), 60000)))
return reply
"""

# KEYS: leases, tokens, clock   ARGV: lease ms, entries...  (only leases still held, by the same holder, are extended)
RENEW = NOW_MS + HELD_ID + """
local n = 0
for i = 2, #ARGV do
  local id = held_id(ARGV[i], KEYS[2])
  if id then n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), id) end
end
return n
"""

# KEYS: leases, queue, payloads, attempts, dead letters, tokens, clock
# ARGV: max entries, max attempts (0 = no limit), entries...  (none = every expired lease)
# Released leases (still held by the caller) go back to the front of the queue. Expired ones too, counted:
# an entry whose lease expired `max attempts` times (a page that kills or stalls every worker that takes it)
# goes to the dead-letter list instead, with its reason, for `scrapy gmw failed` (--requeue puts it back).
# Returns {entries queued again, entries given up}.
REQUEUE = NOW_MS + HELD_ID + """
local ids, expired = {}, #ARGV <= 2
if expired then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
else
  for i = 3, #ARGV do
    local id = held_id(ARGV[i], KEYS[6])
    if id then table.insert(ids, id) end
  end
end
local n, dead, most = 0, 0, tonumber(ARGV[2])
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 and redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HDEL', KEYS[6], id)
    local count = 0
    if expired then count = redis.call('HINCRBY', KEYS[4], id, 1) end
    if expired and most > 0 and count >= most then
      local payload = redis.call('HGET', KEYS[3], id)
      local ok, request = pcall(cjson.decode, payload)
      local url = ''
      if ok and type(request) == 'table' and type(request.url) == 'string' then url = request.url end
      redis.call('RPUSH', KEYS[5], cjson.encode({url = url, at = string.format('%.3f', now / 1000), worker = '',
        reason = 'lease expired ' .. count .. ' times: the page stalls or kills every worker that takes it?',
        request = payload}))
      redis.call('HDEL', KEYS[3], id)
      redis.call('HDEL', KEYS[4], id)
      dead = dead + 1
    else
      redis.call('ZADD', KEYS[2], -1125899906842624 + tonumber(id), id)
      n = n + 1
    end
  end
end
return {n, dead}
"""

# KEYS: queue, leases, idle_since, run, clock   ARGV: idle ms
IDLE = NOW_MS + """
if redis.call('ZCARD', KEYS[1]) > 0 or redis.call('ZCARD', KEYS[2]) > 0 then
  redis.call('DEL', KEYS[3])
  return 'busy'
end
if redis.call('HGET', KEYS[4], 'state') == 'finished' then return 'finished' end
local since = redis.call('GET', KEYS[3])
if not since then
  redis.call('SET', KEYS[3], now)
  return 'waiting'
end
if now - tonumber(since) >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[4], 'state', 'finished', 'finished_at_ms', now)
  return 'finished'
end
return 'waiting'
"""

# KEYS: run, then (to reopen) the run state to clear   ARGV: new run id, started at (ISO), '1' to reopen
# A watching worker reopens a finished run (what `scrapy gmw seed` does), atomically: of several starting at
# once, one opens the new run and the others join it.
JOIN_RUN = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'finished' and ARGV[3] == '1' then
  for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
  state = nil
end
if not state then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', 'running', 'started_at', ARGV[2])
  return {'new', ARGV[1]}
end
return {state, redis.call('HGET', KEYS[1], 'id')}
"""

# KEYS: poller, watch, clock   ARGV: worker, lease ms, poll interval ms, wall time (s)
# Watch mode in a cluster: one worker holds the poller lease and polls the listings; the lease and the
# decision to poll are one step, so a worker whose lease lapsed (stalled, cut off) cannot poll beside the
# new holder. The last poll's time is the cluster's, so a new holder polls when the old one would have.
# returns {1, holder}: poll now; {2, holder}: this worker holds the lease, not yet time; {0, holder}: another polls
POLL = NOW_MS + """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, holder} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'last_ms') or '-1')
if last < 0 or now - last >= tonumber(ARGV[3]) or last > now then
  redis.call('HSET', KEYS[2], 'last_ms', now, 'at', ARGV[4], 'by', ARGV[1])
  return {1, ARGV[1]}
end
return {2, ARGV[1]}
"""

# KEYS: poller   ARGV: worker — a stopping poller hands over at once (a rolling restart misses no poll)
RELEASE_POLLER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: bucket, pause   ARGV: rate (per second), burst
# A reservation: the caller waits the returned seconds, then sends; no second round trip.
RATE = """
-- KEYS[1] the site's token bucket, KEYS[2] its pause (a key whose time to live is the pause: Retry-After)
-- returns {1, seconds}: paused, no token taken, ask again then; {0, seconds}: token taken, send in that long
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {1, tostring(paused / 1000)} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
-- Redis TIME is wall-clock: a step back would read as negative time and make every request wait that long
if now < ts then ts = now end
tokens = math.min(burst, tokens + (now - ts) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 600000)
if tokens >= 0 then return {0, '0'} end
return {0, tostring(-tokens / rate)}
"""
