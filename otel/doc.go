// Package lazyotel traces and measures lazysched tasks with OpenTelemetry,
// through the scheduler's lifecycle hooks (scheduler.Hooks): nothing in the
// scheduler or in the tasks needs to change.
//
// # Traces
//
// Every task that a scheduler or scope with the Observer's hooks runs gets
// one span, a child of the span found in the task's context: the one of
// the code that made the task, carried with lazytask.WithContext or
// lazytask.WithValues (an HTTP handler's request span, say), or of the
// scheduler's base context. The task's function runs with a context that
// holds the task's span, so the spans it starts nest under it.
//
// The span starts when the task was queued and ends when it finished, so
// that a trace viewer shows the time it waited: the attribute
// lazysched.task.queue_time gives the wait in seconds, and with
// WithStartedEvent an event named "lazysched.task.started" marks the
// moment it started. A task force-run
// without ever being queued has no wait. A task canceled before it ran
// still gets its span, from its queueing (or creation) to its end.
//
// Attributes: lazysched.task.name, lazysched.task.priority,
// lazysched.task.weight, lazysched.task.label.KEY for each label,
// lazysched.scope (the scope's path from the root, "root/crawl/example.com"),
// lazysched.task.forced (force-run over the cap), lazysched.task.promoted
// (promoted to the head of its queue while it waited, see
// lazytask.Info.Promoted), lazysched.task.outcome
// (succeeded, failed, panicked, canceled, or rejected for a task its
// scheduler refused, see lazytask.Info.Rejected), all set when the task ends (a
// sampler sees the span's name, the task's name or "lazysched.task"; a task
// that never ran has no queue_time). A failed task's span has status
// Error and the error recorded as an "exception" event; a task that
// panicked has status Error and an "exception" event with the panic value
// (exception.type, exception.message) and the stack of the panic
// (exception.stacktrace). A canceled task's status is left unset: the
// cancellation is the caller's choice, not the task's failure; its cause is
// in lazysched.task.cancel_cause. A rejected task's status is Error, with
// the refusal ("rejected: scheduler: queue full"): the work was asked for
// and will not be done.
//
// # Metrics
//
//   - lazysched.tasks: counter of ended tasks, by lazysched.scope and
//     lazysched.task.outcome.
//   - lazysched.task.queue_time: histogram of the seconds a task waited
//     between being queued and starting, by scope, recorded at the start:
//     before the start hooks have run, so it leaves out their time, which
//     the span's lazysched.task.queue_time attribute (Timings.QueueTime)
//     counts.
//   - lazysched.task.run_time: histogram of the seconds a task ran, by
//     scope and outcome, recorded at its end.
//   - lazysched.scope.queued, lazysched.scope.running, lazysched.scope.in_use
//     and lazysched.scope.limit: observable gauges of each scope's subtree
//     (Scope.Stats), for every scope the hooks have seen a task of, or that
//     Observe was given, and for their ancestors (the root's are the whole
//     scheduler's); a scope with no cap of its own has no limit.
//
// The tasks are counted, and their spans ended, by their OnDone hooks: a
// read made as soon as a scope's Wait or Shutdown returns may miss the last
// of its tasks, whose done hooks may still be running (see
// scheduler.Hooks); after the scheduler's Shutdown every task is counted
// and every span ended.
//
// Scopes are kept weakly: a scope that its program and its scheduler have
// let go drops out of the gauges. Until then, once its scheduler has
// released it (canceled, timed out or shut down, with no task left), it
// gives way in the gauges to a live scope of its path.
//
// A scope is told apart by its path alone. Give the scopes whose metrics
// you read names of their own: two schedulers served by one Observer (both
// "root"), or sibling scopes of one name (errgroup.In's are all
// "errgroup"), share their series, and the gauges then show one of them.
// Each path is a series of the counter and the histograms for as long as
// the meter provider lives: scopes made per request or per host under the
// default names ("root/1", "root/2", ...) grow them without bound, up to
// the SDK's limit on attribute sets (2,000 by default), past which tasks
// are counted in its overflow series.
package lazyotel
