package redisfleet

import "github.com/redis/go-redis/v9"

// Every script takes the same KEYS: holders, weights, waiters, waitexp,
// seq, epoch, grace (see keysFor), and ARGV[1], the restart grace in
// milliseconds. It starts with prelude:
//   - the time now, in milliseconds, by Redis's clock;
//   - the epoch: the id of this Redis's state of the limit, made (with a
//     grace period, during which nothing is granted) when it is missing,
//     that is on a fresh or restarted Redis; the request counter then
//     starts above any count an earlier Redis could have reached, so that
//     requests re-entered from before keep their place;
//   - expired leases and waiting entries dropped, and the fleet woken if
//     a lease was (its slots are free);
//   - the fleet's slots in use, summed from the holders left.
const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('GET', KEYS[6])
local graceEnd
if not epoch then
  epoch = string.format('%d', now)
  graceEnd = now + tonumber(ARGV[1])
  redis.call('SET', KEYS[6], epoch)
  redis.call('SET', KEYS[7], string.format('%d', graceEnd))
  redis.call('SET', KEYS[5], string.format('%d', now * 1000))
else
  graceEnd = tonumber(redis.call('GET', KEYS[7]) or '0')
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(dead) do redis.call('HDEL', KEYS[2], id) end
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('PUBLISH', string.sub(KEYS[1], 1, -8) .. 'wake', 'expired')
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(gone) do redis.call('ZREM', KEYS[3], m) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
local used = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  used = used + tonumber(redis.call('HGET', KEYS[2], id) or '0')
end
`

// acquireScript enters a request in the line (or refreshes its entry, at
// the place it had) and grants it if it is first and fits, and the restart
// grace is over.
// ARGV: grace ms, limit, id, weight, priority key, lease ms, member (""
// the first time), wake channel. Returns {granted 0|1, member, used,
// epoch, grace ms left}.
var acquireScript = redis.NewScript(prelude + `
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[4])
local lease = tonumber(ARGV[6])
local member = ARGV[7]
if member == '' then
  local seq = redis.call('INCR', KEYS[5])
  member = ARGV[5] .. ':' .. string.format('%016d', seq) .. ':' .. ARGV[3]
end
redis.call('ZADD', KEYS[3], 0, member)
local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if now >= graceEnd and head == member and used + w <= limit then
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[3], w)
  used = used + w
  if used < limit and redis.call('ZCARD', KEYS[3]) > 0 then
    redis.call('PUBLISH', ARGV[8], 'grant')
  end
  return {1, member, used, epoch, 0}
end
redis.call('ZADD', KEYS[4], now + lease, member)
return {0, member, used, epoch, math.max(graceEnd - now, 0)}
`)

// renewScript extends the leases of the permits it is given, if they are
// still held. A permit granted in an earlier epoch (before a restart of
// Redis) is entered again during the grace, so that the holders of the
// earlier Redis keep their slots and the cap holds across the restart.
// ARGV: grace ms, lease ms, then (id, weight, epoch) per permit.
// Returns {used, {1 renewed | 2 entered again | 0 gone, per permit},
// epoch}.
var renewScript = redis.NewScript(prelude + `
local lease = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
    out[#out + 1] = 1
  elseif ARGV[i + 2] ~= epoch and now < graceEnd then
    redis.call('ZADD', KEYS[1], now + lease, id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 1])
    used = used + tonumber(ARGV[i + 1])
    out[#out + 1] = 2
  else
    out[#out + 1] = 0
  end
end
return {used, out, epoch}
`)

// releaseScript gives permits back and removes waiting entries, and wakes
// the fleet if it did either. ARGV: grace ms, wake channel, number of
// permit ids n, ids... (n of them), members... Returns used.
var releaseScript = redis.NewScript(prelude + `
local n = tonumber(ARGV[3])
local changed = 0
for i = 4, 3 + n do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    used = used - tonumber(redis.call('HGET', KEYS[2], id) or '0')
    changed = 1
  end
  redis.call('HDEL', KEYS[2], id)
end
for i = 4 + n, #ARGV do
  changed = changed + redis.call('ZREM', KEYS[3], ARGV[i])
  redis.call('ZREM', KEYS[4], ARGV[i])
end
if changed > 0 then redis.call('PUBLISH', ARGV[2], 'release') end
return used
`)

// inUseScript returns the fleet's slots in use, the number of waiting
// requests and the grace left. ARGV: grace ms.
// Returns {used, waiting, grace ms left}.
var inUseScript = redis.NewScript(prelude + `
return {used, redis.call('ZCARD', KEYS[3]), math.max(graceEnd - now, 0)}
`)

// keysFor returns the keys of the limit named name, in the scripts' order,
// and its wake channel. The prelude finds the channel from the first key:
// keep "holders" first, and the channel's name the prefix and "wake".
func keysFor(name string) (keys []string, wake string) {
	p := "{" + name + "}:"
	return []string{p + "holders", p + "weights", p + "waiters", p + "waitexp", p + "seq", p + "epoch", p + "grace"}, p + "wake"
}
