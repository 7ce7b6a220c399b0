// Package core holds the type-erased task that lazytask's typed handle wraps
// and that the scheduler queues and runs: the state machine, the result
// publication protocol, done callbacks, the task's context, timings and the
// intrusive priority queue.
//
// Nothing here is exported to users: lazytask re-exports what they need.
// The operations are plain functions rather than methods so that embedding
// a Task in lazytask.Task[T] promotes nothing into the public API.
package core
