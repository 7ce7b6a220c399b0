// Package lazytask provides Task, a typed handle to a job that has not run
// yet.
//
// Creating a task never runs it. New returns at once a *Task[T] in the Lazy
// state; the caller can attach done callbacks, read its options, cancel it,
// await it with a context, hand it to a scheduler, or start it now on its own
// goroutine with Start. Awaiting a task that has not started just waits: it
// never starts the task and never blocks anything but the awaiting
// goroutine.
//
// Every task reaches exactly one terminal state (Succeeded, Failed or
// Canceled). The return of the task's function, and the publication of its
// result, happen before Done is closed and before any done callback runs.
//
// A panic in the task's function ends the task Failed with a *PanicError that
// carries the panic value and stack; a call to runtime.Goexit ends it Failed
// with ErrGoexit. Neither hangs an awaiter. (errgroup's authors chose not to
// recover panics so that a crash points at the bug; a scheduler that runs
// millions of independent jobs cannot let one of them take the process down,
// so lazytask recovers and hands the panic to whoever awaits the task.)
//
// lazytask imports nothing from the rest of the module and is usable on its
// own. The scheduler package queues tasks under a concurrency cap.
package lazytask
