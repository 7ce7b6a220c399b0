package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// noop is the task of the throughput workloads: all cost is the runner's.
func noop() {}

// sleepTask is W4's task: it waits without using a CPU.
func sleepTask() { time.Sleep(100 * time.Microsecond) }

// spinSink keeps the CPU task's result alive so that the compiler cannot
// drop the loop.
var spinSink atomic.Uint64

// spin burns the CPU for about iters nanoseconds (one xorshift step each).
func spin(iters int) {
	x := uint64(iters) | 1
	for range iters {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink.Add(x)
}

// spinIters is the iteration count that makes spin last about 20µs on this
// machine, measured once per process (the fastest of several tries, so that
// a busy neighbour does not shorten every task).
var spinIters = sync.OnceValue(func() int {
	const target = 20 * time.Microsecond
	const probe = 2000
	best := time.Duration(1 << 62)
	for range 10 {
		t0 := time.Now()
		for range 50 {
			spin(probe)
		}
		if d := time.Since(t0) / 50; d < best {
			best = d
		}
	}
	return max(1, int(float64(probe)*float64(target)/float64(best)))
})

// serialTime is the time one call of task takes on one goroutine: the
// fastest of 5 batches of k calls, so that a neighbour's burst does not
// inflate it (and with it the efficiency measured against it).
func serialTime(task func(), k int) time.Duration {
	best := time.Duration(1 << 62)
	for range 5 {
		t0 := time.Now()
		for range k {
			task()
		}
		best = min(best, time.Since(t0)/time.Duration(k))
	}
	return best
}
