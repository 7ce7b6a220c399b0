package redisfleet

import "github.com/redis/go-redis/v9"

// Every script takes the same KEYS: holders, weights, waiters, waitexp,
// seq, epoch, grace, granted, waitw (member -> weight, and "#"id ->
// member: a request's entry, found by its id) (see keysFor), and ARGV[1], the restart grace in
// milliseconds. It starts with prelude:
//   - the time now, in milliseconds, by Redis's clock;
//   - the epoch: the id of this Redis's state of the limit, made (with a
//     grace period, during which nothing is granted) when it is missing,
//     that is on a fresh or restarted Redis; the request counter then
//     starts above any count an earlier Redis could have reached, so that
//     requests re-entered from before keep their place;
//   - expired leases and waiting entries dropped (with the grants made
//     for them that were not picked up), and the fleet woken if either
//     was (freed slots, or a request gone from the head of the line, may
//     let the requests behind it in);
//   - the fleet's slots in use, summed from the weights of the holders
//     left (weights holds exactly the holders: every script that adds or
//     drops a holder sets or deletes its weight).
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
  -- The grace is the longest that any Limit of the name asked for, from
  -- the epoch's start: a Limit with a short grace that came first does
  -- not cut short the wait that holders with longer leases need.
  graceEnd = tonumber(redis.call('GET', KEYS[7]) or '0')
  local want = tonumber(epoch) + tonumber(ARGV[1])
  if want > graceEnd and now < want then
    graceEnd = want
    redis.call('SET', KEYS[7], string.format('%d', graceEnd))
  end
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(dead) do
  redis.call('HDEL', KEYS[2], id)
  local m = redis.call('HGET', KEYS[8], '#' .. id)
  if m then redis.call('HDEL', KEYS[8], m, '#' .. id) end
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(gone) do
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[9], m, '#' .. (string.match(m, ':([^:]*)$') or ''))
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
if #dead > 0 or #gone > 0 then
  -- Freed slots, or a dead request gone from the head of the line: the
  -- requests behind may fit now, and only a script call grants them.
  redis.call('PUBLISH', string.sub(KEYS[1], 1, -8) .. 'wake', 'expired')
end
local used = 0
for _, w in ipairs(redis.call('HVALS', KEYS[2])) do used = used + tonumber(w) end
-- grantHeads grants, once the grace is over, every request at the head of
-- the line that fits under limit, in order, whoever made it, with a lease
-- of lease ms. A grant for mine (a member, or nil) is the caller's own;
-- the others wait in granted for their process to pick them up, and one
-- message on the wake channel names those processes. It returns whether
-- mine was granted.
local function grantHeads(limit, lease, mine)
  local got, owners = false, {}
  while now >= graceEnd do
    local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
    if not head then break end
    local hw = tonumber(redis.call('HGET', KEYS[9], head) or '1')
    if used + hw > limit then break end
    local hid = string.match(head, ':([^:]*)$')
    redis.call('ZREM', KEYS[3], head)
    redis.call('ZREM', KEYS[4], head)
    redis.call('HDEL', KEYS[9], head, '#' .. hid)
    redis.call('ZADD', KEYS[1], now + lease, hid)
    redis.call('HSET', KEYS[2], hid, hw)
    used = used + hw
    if head == mine then
      got = true
    else
      redis.call('HSET', KEYS[8], head, hid, '#' .. hid, head)
      owners[#owners + 1] = string.match(hid, '^(.*)-[^-]*$') or hid
    end
  end
  if #owners > 0 then
    redis.call('PUBLISH', string.sub(KEYS[1], 1, -8) .. 'wake', 'grant ' .. table.concat(owners, ' '))
  end
  return got
end
`

// acquireScript answers a request that holds its permit already (a grant
// made for it by another process's call, or one whose reply was lost), or
// enters the request in the line (or refreshes its entry, at the place it
// had: a retry whose first reply was lost finds its entry by its id); then, once the restart grace is over, it grants every request
// at the head of the line that fits, in order, whoever made it. A grant
// made for another request is kept for it (in granted: member -> permit
// id, and "#"id -> member) until its process picks it up, woken by a
// message; its lease runs from the grant, so that a dead process's request
// holds its slots for one lease at most and never stops the line.
// ARGV: grace ms, limit, id, weight, priority key, lease ms, member (""
// the first time). Returns {granted 0|1, member, used,
// epoch, ms left: of the lease if granted, else of the grace}.
var acquireScript = redis.NewScript(prelude + `
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[6])
local member = ARGV[7]
local w = tonumber(ARGV[4])
local id = ARGV[3]
if redis.call('ZSCORE', KEYS[1], id) then
  -- The request holds its permit already: granted for it by another
  -- process's call (picked up now), or by an earlier call of its own
  -- whose reply was lost. Its lease runs from now, at this Limit's
  -- length, so that a grant made long ago (or with a shorter lease) is
  -- not lost before its task could start; what is left of its entry goes.
  if member == '' then member = redis.call('HGET', KEYS[9], '#' .. id) or '' end
  if member ~= '' then
    redis.call('ZREM', KEYS[3], member)
    redis.call('ZREM', KEYS[4], member)
    redis.call('HDEL', KEYS[9], member)
  end
  redis.call('HDEL', KEYS[9], '#' .. id)
  local gm = redis.call('HGET', KEYS[8], '#' .. id)
  if gm then redis.call('HDEL', KEYS[8], gm, '#' .. id) end
  redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
  return {1, member, used, epoch, lease}
end
if member == '' then
  -- A first call, or a retry of one whose reply was lost: then the entry
  -- it made is kept (waitw: "#"id -> member), with its place.
  member = redis.call('HGET', KEYS[9], '#' .. id) or ''
end
if member == '' then
  if now >= graceEnd and used + w <= limit and redis.call('ZCARD', KEYS[3]) == 0 then
    -- Nobody waits and it fits: granted without entering the line.
    redis.call('ZADD', KEYS[1], now + lease, id)
    redis.call('HSET', KEYS[2], id, w)
    return {1, '', used + w, epoch, lease}
  end
  local seq = redis.call('INCR', KEYS[5])
  member = ARGV[5] .. ':' .. string.format('%016d', seq) .. ':' .. id
  redis.call('HSET', KEYS[9], '#' .. id, member)
end
redis.call('ZADD', KEYS[3], 0, member)
redis.call('ZADD', KEYS[4], now + lease, member)
redis.call('HSET', KEYS[9], member, w)
local mine = grantHeads(limit, lease, member)
if mine then return {1, member, used, epoch, lease} end
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

// releaseScript gives permits back (with any entry their requests left in
// the line) and removes waiting entries (and gives back a grant made for
// one and not picked up); then it grants what the
// room made fits (grantHeads), so that only the processes granted are
// woken. ARGV: grace ms, limit, lease ms, number of permit ids n, ids...
// (n of them), members... Returns used.
var releaseScript = redis.NewScript(prelude + `
local n = tonumber(ARGV[4])
local changed = 0
for i = 5, 4 + n do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    used = used - tonumber(redis.call('HGET', KEYS[2], id) or '0')
    changed = 1
  end
  redis.call('HDEL', KEYS[2], id)
  local m = redis.call('HGET', KEYS[8], '#' .. id)
  if m then redis.call('HDEL', KEYS[8], m, '#' .. id) end
  -- An entry the request left in the line (a call whose reply was lost
  -- entered it, and the caller never learnt its member) goes too.
  local e = redis.call('HGET', KEYS[9], '#' .. id)
  if e then
    changed = changed + redis.call('ZREM', KEYS[3], e)
    redis.call('ZREM', KEYS[4], e)
    redis.call('HDEL', KEYS[9], e, '#' .. id)
  end
end
for i = 5 + n, #ARGV do
  local m = ARGV[i]
  changed = changed + redis.call('ZREM', KEYS[3], m)
  redis.call('ZREM', KEYS[4], m)
  redis.call('HDEL', KEYS[9], m, '#' .. (string.match(m, ':([^:]*)$') or ''))
  local id = redis.call('HGET', KEYS[8], m)
  if id then
    redis.call('HDEL', KEYS[8], m, '#' .. id)
    if redis.call('ZREM', KEYS[1], id) == 1 then
      used = used - tonumber(redis.call('HGET', KEYS[2], id) or '0')
      changed = changed + 1
    end
    redis.call('HDEL', KEYS[2], id)
  end
end
if changed > 0 then grantHeads(tonumber(ARGV[2]), tonumber(ARGV[3]), nil) end
return used
`)

// inUseScript returns the fleet's state: slots in use, waiting requests,
// the restart grace left, and the processes (Limits: the prefix of their
// ids) that hold permits and that wait. ARGV: grace ms.
// Returns {used, waiting, grace ms left, holding processes, waiting
// processes}.
var inUseScript = redis.NewScript(prelude + `
local function owners(ids)
  local seen, n = {}, 0
  for _, id in ipairs(ids) do
    local o = string.match(id, '([^:]*)-[^-]*$')
    if o and not seen[o] then seen[o] = true; n = n + 1 end
  end
  return n
end
local waiting = redis.call('ZRANGE', KEYS[3], 0, -1)
return {used, #waiting, math.max(graceEnd - now, 0), owners(redis.call('ZRANGE', KEYS[1], 0, -1)), owners(waiting)}
`)

// keysFor returns the keys of the limit named name, in the scripts' order,
// and its wake channel. The prelude finds the channel from the first key:
// keep "holders" first, and the channel's name the prefix and "wake".
func keysFor(name string) (keys []string, wake string) {
	p := "{" + name + "}:"
	return []string{p + "holders", p + "weights", p + "waiters", p + "waitexp", p + "seq", p + "epoch", p + "grace", p + "granted", p + "waitw"}, p + "wake"
}
