// Package scheduler runs lazytask tasks under a concurrency cap.
//
// Submission never blocks: Submit returns a typed handle at once, in the
// Queued state, however many tasks wait. At most the cap's worth of slots
// run at a time (a task takes as many slots as its weight); queued tasks are
// admitted highest priority first, FIFO within a priority. The order is
// kept under every cap: a task too heavy for the room left at a cap (the
// root's or a scope's) waits at the head of the line, and lighter tasks
// queued after it under that cap wait behind it rather than take each slot
// that frees, so a heavy task is never overtaken for ever (as with
// x/sync's semaphore; a Promote or a higher priority still goes first).
// Callers can
// force-run a queued task now (over the cap, counted), promote it to the
// head of the queue, or cancel it before it runs (then it never runs).
//
// There is no dispatcher goroutine: a submit that finds a free slot starts
// the task on a new goroutine, and a goroutine whose task has finished runs
// the next admitted task itself. No goroutine waits per pending task, so a
// million queued tasks cost a million small handles and nothing else.
// While the root cap is full, a Submit does not even take the scheduler's
// lock: it pushes the task onto its scope's lock-free inbox, which the next
// lock holder links into the scope's queue, oldest first, before it does
// anything else, so order, Stats and every operation on the task are as if
// the submit had taken the lock.
//
// Time comes from the runtime's clock unless WithClock gives the scheduler
// another (a test's mock clock): task timings, task and scope timeouts and
// deadlines, and aging then follow it.
//
// Shutdown stops admission, lets queued and running work finish until its
// context ends, then cancels what remains and waits for it: every submitted
// task either ran or is reported Canceled, and no goroutine outlives it.
package scheduler
