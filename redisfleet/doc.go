// Package redisfleet is a [limiter.Shared] cap kept in Redis, so that every
// process of a fleet shares one limit: "at most 50 calls to the partner API
// from the whole fleet". Give a [Limit] to a scheduler or a scope with
// scheduler.WithSharedLimit; each task then holds a permit of its weight
// from the fleet while it runs.
//
// # Leases
//
// A permit is a lease: it has an owner (one [Limit], one process) and an
// expiry, kept by Redis's own clock (TIME, inside the scripts). A Limit
// renews all the leases it holds in one script call every lease/3. A
// process that dies stops renewing, and its permits go back to the fleet
// once their leases expire: after at most one lease, with nobody's help.
//
// A permit whose lease could not be renewed in time is lost: the Limit
// calls the request's Lost with [limiter.ErrLeaseLost] (wrapped with the
// reason) when a renewal finds the lease gone, or, at the latest, a margin
// (lease/5) before the lease could lapse as seen from this process, even
// while Redis does not answer. The scheduler then cancels the task's
// context with that cause, so a task that honours its context stops before
// its slots can be granted to someone else, if it returns within that
// margin: a process paused or starved of CPU for longer (a stopped VM, a
// GC pause, an overloaded host) may run a lost task beside its successor.
// Leases bound how long a dead or cut-off process holds slots; without
// fencing tokens checked by the protected resource, no lease can promise
// that a paused process never overlaps.
//
// # Waiting
//
// Waiting requests are kept in Redis in priority order (higher first), then
// in the order they first reached Redis, across the whole fleet; a request
// is granted only when it is the first in that order and its weight fits,
// so a heavy request is not overtaken forever. Whichever process's call
// finds room grants every request at the head that fits, in order, its own
// or another's; a grant made for another process waits for it to pick it
// up (it is told by a message) and its lease runs from the grant, so the
// request of a process that died holds its slots for one lease at most and
// does not stop the line. A waiting entry is a lease too, refreshed while
// its process asks, and dropped if its process goes away.
//
// A Limit runs one goroutine of its own, started by [New] and stopped by
// [Limit.Close]; it makes every call to Redis, so that Acquire and Release
// never block. It waits for wake-ups that the scripts publish on the
// channel "{name}:wake": a release grants what its room fits, and its
// message names the processes granted, so only they call Redis to pick
// their grants up; leases found expired wake everyone. It re-checks its
// waiting requests every lease/2 as a safety net against a lost message. A
// queued task costs no goroutine and no polling of its own.
//
// # Keys
//
// Every key carries the hash tag {name}, so that a Redis Cluster keeps
// them on one node: {name}:holders (a sorted set of permit ids scored by
// lease expiry, in milliseconds), {name}:weights (a hash of their weights),
// {name}:waiters, {name}:waitexp and {name}:waitw (the waiting requests, in
// grant order, their expiries and their weights), {name}:granted (grants
// made for a request and not yet picked up), {name}:seq (the request
// counter), and {name}:epoch and {name}:grace (see below). All state
// changes go through Lua scripts, so each is atomic.
//
// # Restarts
//
// A Redis that restarts without its keys (no persistence) would forget the
// permits held. Each state of the keys has an epoch, made by the first
// script that finds none, with a restart grace (one lease by default, see
// [WithRestartGrace]) during which nothing is granted; a Limit whose
// permit is missing from a Redis of another epoch enters it again at its
// next renewal within the grace, and the task goes on. So the cap holds
// across the restart; the price is that the first request on a fresh Redis
// waits for the grace too.
//
// # Redis unreachable
//
// By default a request waits while Redis cannot be reached and is retried
// until it can; with [WithFailFast] it is answered at once with
// [limiter.ErrSharedUnavailable], wrapped with the reason, and the
// scheduler ends its task Failed.
package redisfleet

import "github.com/lazysched/lazysched/limiter"

var _ limiter.Shared = (*Limit)(nil)
