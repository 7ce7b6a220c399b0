// Package lazysched runs many jobs with a concurrency cap, and gives the
// caller a lazy, typed handle to each of them.
//
// A Go program that must "run 1,000,000 jobs, at most 16 at a time" usually
// either blocks the submitter (errgroup.SetLimit, a semaphore) or gets a
// pool whose queued jobs are opaque until they run. lazysched does
// neither: submission never blocks, and every job has a handle from the
// moment it is created.
//
// The packages, from the bottom up:
//
//   - lazytask: the handle, Task[T]. Creating a task never runs it; the
//     handle can be awaited with a context, canceled, started, given done
//     callbacks, and read for its options and timings. Usable on its own.
//   - limiter: weighted slot accounting (a resizable FIFO semaphore, like
//     golang.org/x/sync/semaphore's, a plain counter to keep under a
//     caller's own lock, and Shared, the contract of a cap shared beyond
//     one scheduler, with Local, an in-process one).
//   - scheduler: the bounded scheduler. Submit queues a task without
//     blocking; tasks are admitted by priority, then FIFO, as slots free up;
//     a queued task can be force-run over the cap, promoted to the head of
//     the queue, or canceled so that it never runs. Tasks run in a tree of
//     scopes with nested caps, fail-fast or supervisor error policies,
//     level-triggered cancellation, graceful shutdown and lifecycle hooks.
//   - factory: "start a task somewhere" for code that creates tasks on
//     someone else's behalf: the combinators (Gather, Race, Map,
//     AsCompleted, Completed), servers that drain (Serve, ServeHTTP), an
//     errgroup drop-in and a pond adapter (pondexec).
//   - tracker: a ready-made tracker on the hooks (counters, durations,
//     expvar).
//
// This package holds the tour, the end-to-end example and every sentinel
// error of the packages below, re-exported under the same names so that one
// import can test them with errors.Is (each is the same value as the one it
// stands for; a test keeps the list complete).
package lazysched

import (
	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// Sentinel errors of lazytask: see there.
var (
	ErrNotDone        = lazytask.ErrNotDone
	ErrNilFunc        = lazytask.ErrNilFunc
	ErrStarted        = lazytask.ErrStarted
	ErrGoexit         = lazytask.ErrGoexit
	ErrInvalidOption  = lazytask.ErrInvalidOption
	ErrScopeClosed    = lazytask.ErrScopeClosed
	ErrCallbackGoexit = lazytask.ErrCallbackGoexit
	ErrHandingOver    = lazytask.ErrHandingOver
)

// Sentinel errors of scheduler: see there.
var (
	ErrClosed        = scheduler.ErrClosed
	ErrScopeCanceled = scheduler.ErrScopeCanceled
	ErrQueueFull     = scheduler.ErrQueueFull
	ErrNotQueued     = scheduler.ErrNotQueued
	ErrForeignHandle = scheduler.ErrForeignHandle
	ErrNilScope      = scheduler.ErrNilScope
	ErrInterrupted   = scheduler.ErrInterrupted
)

// Sentinel errors of limiter (scheduler returns the first two too).
var (
	ErrInvalidLimit   = limiter.ErrInvalidLimit
	ErrWeightTooLarge = limiter.ErrWeightTooLarge
	ErrInvalidWeight  = limiter.ErrInvalidWeight
	// ErrLeaseLost is the cause a shared limit cancels a task with when
	// its permit's lease could not be kept.
	ErrLeaseLost = limiter.ErrLeaseLost
	// ErrSharedUnavailable is what a shared limit that gave up reports.
	ErrSharedUnavailable = limiter.ErrSharedUnavailable
)

// Sentinel errors of factory: see there.
var (
	ErrNotNeeded    = factory.ErrNotNeeded
	ErrNoFuncs      = factory.ErrNoFuncs
	ErrGraceExpired = factory.ErrGraceExpired
)

// PanicError is the error of a task whose function panicked.
type PanicError = lazytask.PanicError
