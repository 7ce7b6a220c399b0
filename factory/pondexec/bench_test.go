package pondexec_test

import (
	"context"
	"testing"

	"github.com/alitto/pond/v2"

	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/scheduler"
)

// BenchmarkThroughput submits 100,000 no-op tasks at a cap of 8 to a
// scheduler that runs them on a pond pool of 8 workers, and waits for
// them: the cost per task of running on the pool (ns/task).
func BenchmarkThroughput(b *testing.B) {
	const n = 100_000
	fn := func(context.Context) error { return nil }
	for b.Loop() {
		pool := pond.NewPool(8)
		s, err := pondexec.New(pool)
		if err != nil {
			b.Fatal(err)
		}
		for range n {
			if _, err := scheduler.Go(s, fn); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		pool.StopAndWait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
}
