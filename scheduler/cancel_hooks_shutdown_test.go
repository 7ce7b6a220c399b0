package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Shutdown waits for every OnDone, also that of a queued task canceled on
// a goroutine that is none of the scheduler's: here the goroutine of
// context.AfterFunc that cancels a task whose carried context ended, and a
// user's Cancel and Scope.Cancel. The task's end is published (Done is
// closed, the scope counts it out) before its done hooks run on that
// goroutine, so Shutdown used to return while they still ran (a flake of
// lazyotel's span test, 60 in 500 runs; found by a flake hunt, 2026-12-06).
// The hook blocks until Shutdown is seen waiting for the goroutines, or
// returns: returning first is the bug.
func TestShutdownWaitsForDoneHooksOfTasksCanceledOutsideItsGoroutines(t *testing.T) {
	for name, cancelIt := range map[string]func(h *lazytask.Task[struct{}], sc *scheduler.Scope, carried context.CancelCauseFunc){
		"carried context": func(_ *lazytask.Task[struct{}], _ *scheduler.Scope, carried context.CancelCauseFunc) {
			carried(errors.New("request gone"))
		},
		"Cancel from a goroutine": func(h *lazytask.Task[struct{}], _ *scheduler.Scope, _ context.CancelCauseFunc) {
			go h.Cancel(errors.New("not needed"))
		},
		"Scope.Cancel from a goroutine": func(_ *lazytask.Task[struct{}], sc *scheduler.Scope, _ context.CancelCauseFunc) {
			go sc.Cancel(errors.New("scope gone"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			entered, release := make(chan struct{}), make(chan struct{})
			var hooksDone atomic.Int32
			s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					if h.Name() == "queued" {
						close(entered)
						<-release
					}
					hooksDone.Add(1)
				},
			}))
			require.NoError(t, err)
			sc, err := s.Root().NewScope(scheduler.WithName("sc"))
			require.NoError(t, err)
			hold, unhold := make(chan struct{}), make(chan struct{})
			holder, err := scheduler.Go(s, func(context.Context) error { close(hold); <-unhold; return nil })
			require.NoError(t, err)
			awaitCh(t, bound, hold, "the holder runs")
			carried, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			h, err := scheduler.Go(sc, func(context.Context) error { return nil },
				lazytask.WithContext(carried), lazytask.WithName("queued"))
			require.NoError(t, err)
			require.Equal(t, lazytask.Queued, h.State())
			cancelIt(h, sc, cancel)
			awaitCh(t, bound, h.Done(), "the queued task's end")
			awaitCh(t, bound, entered, "its done hook runs")
			close(unhold)
			require.NoError(t, holder.Wait(bound))
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(context.Background()) }()
			for scheduler.GoroutineWaiters(s) == 0 && len(shut) == 0 {
				require.NoError(t, bound.Err(), "Shutdown neither waits nor returns")
				runtime.Gosched()
			}
			assert.Zero(t, len(shut), "Shutdown returned while a done hook still ran")
			close(release)
			require.NoError(t, <-shut)
			assert.EqualValues(t, 2, hooksDone.Load(), "done hooks run when Shutdown returned")
		})
	}
}

// awaitCh waits for ch to be closed, failing the test if ctx ends first.
func awaitCh(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: not before the test's bound", what)
	}
}
