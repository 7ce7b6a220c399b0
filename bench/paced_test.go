package bench

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// BenchmarkPaced (lazysched alone) is the workload the linger is for: one
// submitter that does about 1µs of its own work between submits, under
// cap 8, so that each no-op task has ended before the next one comes. A
// goroutine that lingers for work takes the next task through the queue;
// without it each submit starts a goroutine. It reports ns/task and
// cpu-ns/task (user and system time of the whole process per task: what
// lingering burns). 100,000 tasks, handles kept and awaited.
func BenchmarkPaced(b *testing.B) {
	n := scaled(100_000)
	gap := max(1, spinIters()/20) // about 1µs
	b.Run("lazysched", func(b *testing.B) {
		var cpu time.Duration
		measure(b, n, func() {
			c0 := cpuTime()
			s, err := scheduler.New(scheduler.WithLimit(8))
			must(err)
			fn := lazyFunc(noop)
			hs := make([]*lazytask.Task[struct{}], n)
			for i := range hs {
				spin(gap)
				hs[i], err = scheduler.Submit(s, fn)
				must(err)
			}
			for _, h := range hs {
				_, err := h.Await(context.Background())
				must(err)
			}
			must(s.Shutdown(context.Background()))
			cpu += cpuTime() - c0
		})
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/task")
	})
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
