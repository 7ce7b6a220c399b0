package scheduler_test

import (
	"context"
	"testing"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// BenchmarkHooks compares the plain path with no hook registered against
// hooks registered that do nothing (DESIGN §10: at most 10% slower). The
// none case does no hook work at all: Submit checks one slice length.
// Each op is a Submit with its handle dropped; the Shutdown that drains
// what is still queued is timed too, so ns/op is the cost of a task from
// its submit to its end (bench/'s BenchmarkHooks awaits every handle
// instead).
func BenchmarkHooks(b *testing.B) {
	noop := func(context.Context) (struct{}, error) { return struct{}{}, nil }
	empty := scheduler.Hooks{
		OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) {},
		OnQueue:  func(context.Context, *scheduler.Scope, lazytask.Handle) {},
		OnStart:  func(context.Context, *scheduler.Scope, lazytask.Handle) context.Context { return nil },
		OnDone:   func(context.Context, *scheduler.Scope, lazytask.Handle) {},
	}
	for _, bc := range []struct {
		name string
		opts []scheduler.SchedulerOption
	}{
		{"none", nil},
		{"empty", []scheduler.SchedulerOption{scheduler.WithHooks(empty)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := scheduler.New(append(bc.opts, scheduler.WithLimit(8))...)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				scheduler.Submit(s, noop)
			}
			if err := s.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		})
	}
}
