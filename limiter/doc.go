// Package limiter bounds how many slots of work may be in use at once.
//
// It has two slot counters and one contract:
//
//   - [Weighted] is a blocking weighted semaphore, safe for concurrent use,
//     whose limit can be changed while it is in use with [Weighted.Resize].
//     Like [golang.org/x/sync/semaphore], it admits
//     waiters in first-in, first-out order.
//   - [Counter] is a plain slot counter with no locking and no blocking,
//     meant to be kept under a caller's own lock on a hot path.
//   - [Shared] is a cap shared beyond one scheduler (other processes of a
//     fleet, through a store such as Redis): it is asked for permits
//     asynchronously and answers with a callback, so that a scheduler never
//     blocks or holds its lock on it. [Local] is an in-process Shared, to
//     share one cap between schedulers.
//
// Both count in slots: a caller that takes n slots must later give back
// exactly n. Lowering a limit never revokes slots already held; holders
// finish, and new work waits until enough of them have given their slots
// back.
package limiter
