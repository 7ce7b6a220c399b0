package errgroup_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// I9: a wait made with In's context from inside a function lends the
// function's slot, also right after an earlier wait of the function was
// cut short by its context while the slot was taken, so that the function
// runs on over the cap (counted) until a slot is free again. At cap 1:
// the function F awaits with a timeout, its lent slot lets a blocker in,
// the timeout ends the wait (F goes on over the cap), then F awaits a task
// queued behind the blocker. That wait lent nothing (the scheduler
// refused to lend a task still among the reclaims, whose slot it does not
// hold), so when the blocker ended its slot went back to F, which held it
// while it waited for the queued task, which waited for the slot: a hang,
// in every run (found by a random interleaving test with a graceful
// shutdown whose grace ended, which cut a function's Scope.Wait short,
// followed by the function's own Scope.Shutdown).
func TestHostileOverCapFunctionStillLendsItsSlotForItsNextWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1))
		require.NoError(t, err)
		release := make(chan struct{})
		waiting := make(chan *lazytask.Task[int], 1)
		got := make(chan error, 1)
		outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			g, gctx := errgroup.In(ctx, s.Root())
			g.Go(func() error {
				blocker, err := scheduler.Submit(s, func(context.Context) (int, error) { <-release; return 0, nil })
				if err != nil {
					return err
				}
				never := scheduler.NewTask(s, func(context.Context) (int, error) { return 0, nil })
				wctx, cancel := context.WithTimeout(gctx, time.Second)
				_, err = never.Await(wctx) // lends the slot: blocker runs
				cancel()
				if !assert.ErrorIs(t, err, context.DeadlineExceeded) {
					return err
				}
				// The wait was cut short with blocker holding the slot:
				// F goes on over the cap.
				behind, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
				if err != nil {
					return err
				}
				waiting <- blocker
				// Bounded so that a hang fails the test: an hour is "never".
				actx, cancel := context.WithTimeout(gctx, time.Hour)
				defer cancel()
				_, err = behind.Await(actx)
				got <- err
				never.Cancel(nil)
				return nil
			})
			return 1, g.Wait()
		})
		require.NoError(t, err)
		blocker := <-waiting
		synctest.Wait() // F waits for behind, blocker for release
		close(release)
		assert.NoError(t, <-got, "the over-cap function's Await of the task queued behind, at cap 1")
		_, err = blocker.Await(context.Background())
		assert.NoError(t, err)
		_, err = outer.Await(context.Background())
		assert.NoError(t, err)
		require.NoError(t, s.Shutdown(context.Background()))
		st := s.Stats()
		assert.Equal(t, 0, st.InUse, "every slot is back")
		assert.Equal(t, 0, st.OverCap)
	})
}
