package limiter

import "errors"

// Shared is a cap that a scope shares with something outside it: other
// processes of a fleet, through a store such as Redis. A scope given a
// Shared limit (scheduler.WithSharedLimit) starts a task only once it holds
// both a local slot and a [Permit] of the task's weight from the Shared
// limit, and gives the permit back when the task ends.
//
// The scheduler asks for permits asynchronously and never holds its lock
// while a method of Shared or Permit runs on a network round trip: Acquire
// must return at once, and answer later by calling the request's Granted
// function, from any goroutine. A scope keeps at most one request in flight
// (for the task at the head of its queue), asks only while it has queued
// tasks, and cancels its request or releases a spare permit as soon as it
// has none.
type Shared interface {
	// Acquire asks for one permit of req.Weight slots. It must not block.
	// The limit calls req.Granted exactly once, unless the returned cancel
	// function is called first; after cancel, Granted may still be called
	// if the grant raced with it, and the permit it brings must then be
	// released by the caller (the scheduler does so).
	Acquire(req Request) (cancel func())
}

// Request is one ask for a permit of a [Shared] limit.
type Request struct {
	// Weight is the number of slots asked for, at least 1.
	Weight int64
	// Priority orders waiting requests across processes: higher first,
	// then in request order.
	Priority int32
	// Granted receives the permit, or a nil permit and an error when the
	// limit gives up on this request (for example when its store is
	// unreachable and it was told to fail rather than wait). The scheduler
	// then ends the task the request was for as Failed with that error.
	// Granted must not block; the scheduler's does not.
	Granted func(p Permit, err error)
	// Lost, if the limit calls it, says that a granted permit can no
	// longer be kept (its lease could not be renewed in time, or was found
	// expired). The limit calls it at most once per permit, after Granted,
	// and early enough that the task can stop before its slots may go to
	// someone else. The scheduler cancels the task's context with cause.
	Lost func(cause error)
}

// Permit is a share of a [Shared] limit, held while its task runs.
type Permit interface {
	// Release gives the permit back. It must not block, and a second call
	// does nothing.
	Release()
}

// ErrLeaseLost is the cause a [Shared] limit gives [Request.Lost] when a
// permit's lease could not be kept: a task whose context is canceled with
// it must stop, because its slots may soon be granted to another holder.
var ErrLeaseLost = errors.New("limiter: shared permit lease lost")

// ErrSharedUnavailable is the error, wrapped with the reason, that a
// [Shared] limit gives [Request.Granted] when it cannot reach its store and
// was told to fail rather than wait.
var ErrSharedUnavailable = errors.New("limiter: shared limit unavailable")
