// Package stress drives a lazysched scheduler hard, with random faults, and
// checks the invariants of DESIGN.md §2 (I1-I10) while it does.
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
