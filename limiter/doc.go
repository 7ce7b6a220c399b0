// Package limiter bounds how many slots of work may be in use at once.
//
// It has two types:
//
//   - [Weighted] is a blocking weighted semaphore, safe for concurrent use,
//     whose limit can be changed while it is in use with [Weighted.Resize].
//     It is built on [golang.org/x/sync/semaphore] and, like it, admits
//     waiters in first-in, first-out order.
//   - [Counter] is a plain slot counter with no locking and no blocking,
//     meant to be kept under a caller's own lock on a hot path.
//
// Both count in slots: a caller that takes n slots must later give back
// exactly n. Lowering a limit never revokes slots already held; holders
// finish, and new work waits until enough of them have given their slots
// back.
package limiter
