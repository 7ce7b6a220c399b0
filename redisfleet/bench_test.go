package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The benchmarks compare the same work under a local cap only and under a
// local cap and a fleet cap on a redis-server of their own (loopback): run
// them with `make bench-fleet`. Every Limit uses WithRestartGrace(0): the
// fresh Redis's grace would otherwise be timed too.

// benchScheduler returns a scheduler of local cap n, with a fleet cap of n
// on srv too when srv is not nil, and a Limit for each of sharers
// schedulers (all of one name).
func benchSchedulers(b *testing.B, srv *redisServer, sharers, n int) []*scheduler.Scheduler {
	b.Helper()
	var out []*scheduler.Scheduler
	for range sharers {
		opts := []scheduler.SchedulerOption{scheduler.WithLimit(n)}
		if srv != nil {
			l := newLimit(b, srv.client(), b.Name(), int64(n), WithLease(5*time.Second), WithRestartGrace(0))
			opts = append(opts, scheduler.WithSharedLimit(l))
		}
		s, err := scheduler.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		out = append(out, s)
	}
	return out
}

func nop(context.Context) (int, error) { return 1, nil }

// BenchmarkLatency runs one task at a time to its end (submit, await): the
// time per op is a task's whole latency, and fleet's minus local's is what
// the permit's round trips add.
func BenchmarkLatency(b *testing.B) {
	for _, mode := range []string{"local", "fleet"} {
		b.Run(mode, func(b *testing.B) {
			var srv *redisServer
			if mode == "fleet" {
				srv = startRedis(b)
			}
			s := benchSchedulers(b, srv, 1, 1)[0]
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				h, err := scheduler.Submit(s, nop)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.Await(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThroughput submits b.N tasks at once over sharers schedulers
// (each a process, as far as Redis can tell) under a fleet cap of 8, and
// awaits them all: permits/s is the fleet's rate of grants.
func BenchmarkThroughput(b *testing.B) {
	for _, tc := range []struct {
		name    string
		fleet   bool
		sharers int
	}{
		{"local", false, 1},
		{"fleet-1", true, 1},
		{"fleet-4", true, 4},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var srv *redisServer
			if tc.fleet {
				srv = startRedis(b)
			}
			ss := benchSchedulers(b, srv, tc.sharers, 8)
			ctx := context.Background()
			hs := make([]*lazytask.Task[int], 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				h, err := scheduler.Submit(ss[i%len(ss)], nop)
				if err != nil {
					b.Fatal(err)
				}
				hs = append(hs, h)
			}
			for _, h := range hs {
				if _, err := h.Await(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "permits/s")
		})
	}
}
