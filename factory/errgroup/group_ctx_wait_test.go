package errgroup_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// A function of an In group has only the group's context. A wait it makes
// with that context (an Await, a combinator) lends the function's slot, as
// a nested group's wait does (I9): at cap 1 the task it waits for runs.
// Before, the wait lent nothing (or the slot of the task In was given,
// lent already by Wait), and the cap deadlocked.
func TestHostileFunctionWaitsWithTheGroupContextAtCapOne(t *testing.T) {
	for _, outer := range []string{"background", "inside a task"} {
		t.Run(outer, func(t *testing.T) {
			s, err := scheduler.New(scheduler.WithLimit(1))
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
			var own atomic.Int32 // tasks running their own code now
			var most atomic.Int32
			enter := func() func() {
				n := own.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				return func() { own.Add(-1) }
			}
			leaf := func(context.Context) (int, error) { defer enter()(); return 1, nil }
			body := func(ctx context.Context) error {
				g, gctx := errgroup.In(ctx, s)
				g.Go(func() error {
					h, err := scheduler.Submit(s, leaf)
					if err != nil {
						return err
					}
					v, err := h.Await(gctx)
					if err != nil || v != 1 {
						return err
					}
					_, err = factory.Gather(gctx, s, leaf, leaf)
					return err
				})
				return g.Wait()
			}
			if outer == "background" {
				require.NoError(t, body(context.Background()))
			} else {
				h, err := scheduler.Go(s, body)
				require.NoError(t, err)
				_, err = h.Await(context.Background())
				require.NoError(t, err)
			}
			require.Equal(t, int32(1), most.Load(), "tasks running their own code at once, at cap 1")
			st := s.Stats()
			require.Zero(t, st.OverCap)
			require.Zero(t, st.InUse, "every slot lent was taken back and freed")
		})
	}
}

// A wait made with the group's context from a goroutine that runs none of
// the group's functions lends none of their slots: the functions keep
// theirs, and the cap holds (the awaited task never runs while the
// function holds the only slot).
func TestHostileGroupContextWaitFromOutsideLendsNoFunctionsSlot(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()
	for range 50 {
		g, gctx := errgroup.In(context.Background(), s)
		release := make(chan struct{})
		started := make(chan struct{})
		g.Go(func() error { close(started); <-release; return nil })
		<-started
		var early atomic.Bool
		h, err := scheduler.Submit(s, func(context.Context) (int, error) {
			select {
			case <-release:
			default:
				early.Store(true) // ran beside the function, over the cap
			}
			return 1, nil
		})
		require.NoError(t, err)
		waiting := make(chan struct{})
		waited := make(chan error, 1)
		go func() { close(waiting); _, err := h.Await(gctx); waited <- err }()
		<-waiting
		for range 100 {
			runtime.Gosched() // let the wait begin, most of the time
		}
		close(release)
		require.NoError(t, <-waited)
		require.NoError(t, g.Wait())
		require.False(t, early.Load(), "the awaited task ran while the group's function held the only slot")
	}
}
