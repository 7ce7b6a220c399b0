// Package lazyprom exports the state of lazysched schedulers to Prometheus:
// a Collector (a prometheus.Collector) whose hooks (scheduler.Hooks) count
// and time the tasks, and which reads each scope's gauges when it is
// scraped.
//
// Metrics (the namespace is "lazysched" unless WithNamespace says
// otherwise):
//
//   - lazysched_scope_queued, lazysched_scope_running: tasks of the scope's
//     subtree waiting and running (Scope.Stats).
//   - lazysched_scope_in_use_slots: slots of the scope's cap that its
//     subtree's tasks take; lazysched_scope_limit_slots: the scope's own
//     cap, absent for a scope without one.
//   - lazysched_tasks_total: tasks ended, by scope and outcome (succeeded,
//     failed, panicked, canceled, and rejected: refused by the scheduler,
//     see lazytask.Info.Rejected; Stats.Rejected counts the same tasks,
//     and also those refused for bad input, such as a nil function, that
//     no hook sees).
//   - lazysched_task_queue_seconds: histogram of the time tasks waited
//     between being queued and starting, by scope, observed at the start.
//   - lazysched_task_run_seconds: histogram of the time tasks ran, by scope
//     and outcome, observed at the end.
//
// The counters and histograms are fed by the hooks, the tasks counted by
// their OnDone hooks: a scrape made as soon as a scope's Wait or Shutdown
// returns may miss the last of its tasks, whose done hooks may still be
// running (see scheduler.Hooks); after the scheduler's Shutdown every task
// is counted.
//
// The scope label is the scope's path from the root ("root/crawl/example.com").
// The gauges cover every scope the hooks have seen a task of, the scopes
// given to Observe, and their ancestors (the root's gauges are the whole
// scheduler's). Scopes are held weakly: one that its program and its
// scheduler let go drops out of the gauges (until then, once released by
// its scheduler, it no longer adds to a live scope of its path, see
// Collector.Collect); its counters and histograms
// stay, so give scopes that come and go stable names, or make the
// Collector WithForgetScopes: then their series go with them.
package lazyprom
