// Package stress drives a lazysched scheduler hard, with random faults, and
// checks the invariants of DESIGN.md §2 (I1-I12) while it does. It is the
// project's test tool, not API: `make stress` and `make soak` run it.
//
// Run is the randomized stress driver: many submitters, random priorities
// and weights, force-runs, promotes and cancels of tasks, cancels and
// shutdowns of nested scopes with their own caps, fail-fast and supervisor
// policies, tasks that succeed, fail, panic, call runtime.Goexit, time out,
// wait on their context or fan out and await other tasks, lazy tasks left
// unstarted, resizes of the caps, and a Shutdown in the middle. The work is
// cut into rounds: each round is one scheduler's life, from New to Shutdown,
// after which every task of the round is accounted for. Round i of a run
// with seed S uses the seed S+i, so a failing round is replayed alone with
// -seed S+i -tasks <tasks per round>. The seed fixes what is submitted and
// which operations are tried; the goroutine interleaving is the runtime's.
//
// User code is hostile where it meets the scheduler (hostile.go): done
// callbacks that cancel other tasks, submit tasks, await tasks with a
// context, and call runtime.Goexit; hooks that panic or call
// runtime.Goexit at each of OnCreate, OnQueue, OnStart and OnDone (a
// Submit whose create or queue hook exits runs on a throwaway goroutine,
// and its task must end with lazytask.ErrCallbackGoexit); tasks that wait
// from inside, on an older task or on a child scope with a cap of 1 or 2
// (I9); bursts of short-lived scopes, canceled, shut down or timing out
// while the rest runs, which must leave the tree once idle (I12). In a
// calm round (no task that only a cancel ends) a callback's Await must
// return (I11); the callbacks after a hostile one must still run once
// (I2), and every panic and Goexit must be logged once. User code never
// calls runtime.Goexit on a goroutine of the driver's (it panics instead,
// or does nothing): the driver tells them apart by goroutine id.
//
// Violations are counted, not fatal: a run reports every broken invariant
// with a sample of messages. Symptoms of library bugs already filed in the
// bugs tests are counted apart as known unless Config.Strict is set.
//
// Soak queues a million tasks behind a blocked cap, measures the bytes each
// pending task costs, drains them slowly and checks that nothing is left.
//
// The package is meant to be built with -tags lazysched_check, which turns
// on the library's own invariant checks (internal/check); `make stress` runs
// cmd/stress with it.
package stress
