// Package bench measures lazysched against the worker pools its users would
// otherwise pick (raw goroutines, x/sync's semaphore and errgroup, pond,
// ants, conc, a hand-written fixed pool), on the same workloads and in the
// same run. The runners live in this package, one file each; the workloads
// are the benchmarks in bench_test.go; run.sh runs them all and prints the
// table (see README.md).
package bench
