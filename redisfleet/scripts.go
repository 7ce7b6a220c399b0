package redisfleet

import "github.com/redis/go-redis/v9"

// Every script takes the same KEYS: holders, weights, waiters, waitexp,
// seq (see keysFor), and starts with prelude: the time now, in
// milliseconds, by Redis's clock; expired leases and waiting entries
// dropped; the fleet's slots in use summed from the holders left.
const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(dead) do redis.call('HDEL', KEYS[2], id) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(gone) do redis.call('ZREM', KEYS[3], m) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
local used = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  used = used + tonumber(redis.call('HGET', KEYS[2], id) or '0')
end
`

// acquireScript enters a request in the line (or refreshes its entry, at
// the place it had) and grants it if it is first and fits.
// ARGV: limit, id, weight, priority key, lease ms, member ("" the first
// time), wake channel. Returns {granted 0|1, member, used}.
var acquireScript = redis.NewScript(prelude + `
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[3])
local lease = tonumber(ARGV[5])
local member = ARGV[6]
if member == '' then
  local seq = redis.call('INCR', KEYS[5])
  member = ARGV[4] .. ':' .. string.format('%016d', seq) .. ':' .. ARGV[2]
end
redis.call('ZADD', KEYS[3], 0, member)
local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if head == member and used + w <= limit then
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[2], w)
  used = used + w
  if used < limit and redis.call('ZCARD', KEYS[3]) > 0 then
    redis.call('PUBLISH', ARGV[7], 'grant')
  end
  return {1, member, used}
end
redis.call('ZADD', KEYS[4], now + lease, member)
return {0, member, used}
`)

// renewScript extends the leases of the permit ids it is given, if they
// are still held. ARGV: lease ms, ids... Returns {used, {1|0 per id}}.
var renewScript = redis.NewScript(prelude + `
local lease = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return {used, out}
`)

// releaseScript gives permits back and removes waiting entries, and wakes
// the fleet if it did either. ARGV: wake channel, number of permit ids n,
// ids... (n of them), members... Returns used.
var releaseScript = redis.NewScript(prelude + `
local n = tonumber(ARGV[2])
local changed = 0
for i = 3, 2 + n do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    used = used - tonumber(redis.call('HGET', KEYS[2], id) or '0')
    changed = 1
  end
  redis.call('HDEL', KEYS[2], id)
end
for i = 3 + n, #ARGV do
  changed = changed + redis.call('ZREM', KEYS[3], ARGV[i])
  redis.call('ZREM', KEYS[4], ARGV[i])
end
if changed > 0 then redis.call('PUBLISH', ARGV[1], 'release') end
return used
`)

// inUseScript returns the fleet's slots in use and the number of waiting
// requests. Returns {used, waiting}.
var inUseScript = redis.NewScript(prelude + `
return {used, redis.call('ZCARD', KEYS[3])}
`)

// keysFor returns the keys of the limit named name, in the scripts' order,
// and its wake channel.
func keysFor(name string) (keys []string, wake string) {
	p := "{" + name + "}:"
	return []string{p + "holders", p + "weights", p + "waiters", p + "waitexp", p + "seq"}, p + "wake"
}
