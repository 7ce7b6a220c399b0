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
			for b.Loop() {
				scheduler.Submit(s, noop)
			}
			s.Shutdown(context.Background())
		})
	}
}
