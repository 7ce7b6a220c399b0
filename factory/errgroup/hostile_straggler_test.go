package errgroup_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// I9 and lazytask's Await: "if ctx ended first (await with a timeout, then
// cancel the straggler) ... and the slot is taken, the task goes on at
// once, over the cap". A function of an In group has only the group's
// context; its wait lent the function's slot, but once cut short by its
// context it waited to take the slot back, held by the straggler its lend
// let in, which runs until canceled: at cap 1 it never got to cancel it.
// With the task's own context the same code returned at once. Before, the
// function hung in every run (here until the test's hour of the bubble's
// clock ended the outer task's Await).
func TestHostileAwaitWithATimeoutThenCancelTheStragglerFromAGroupFunction(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(ctx context.Context, s *scheduler.Scheduler, straggler interface {
			Wait(context.Context) error
		}) error
	}{
		{"Await", func(ctx context.Context, _ *scheduler.Scheduler, straggler interface {
			Wait(context.Context) error
		}) error {
			return straggler.Wait(ctx)
		}},
		{"Scheduler.Wait", func(ctx context.Context, s *scheduler.Scheduler, _ interface {
			Wait(context.Context) error
		}) error {
			return s.Wait(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := scheduler.New(scheduler.WithLimit(1))
				require.NoError(t, err)
				errStraggler := errors.New("straggler not needed")
				var first, last error
				outer, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
					g, gctx := errgroup.In(ctx, s.Root())
					g.Go(func() error {
						straggler, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
							<-ctx.Done()
							return 0, context.Cause(ctx)
						})
						if err != nil {
							return err
						}
						wctx, cancel := context.WithTimeout(gctx, time.Second)
						first = tc.wait(wctx, s, straggler) // lends the slot: the straggler runs
						cancel()
						straggler.Cancel(errStraggler)
						last = straggler.Wait(gctx)
						return nil
					})
					return 1, g.Wait()
				})
				require.NoError(t, err)
				hctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				_, err = outer.Await(hctx)
				assert.NoError(t, err, "the outer task, whose group function awaited with a timeout")
				assert.ErrorIs(t, first, context.DeadlineExceeded, "the wait with a timeout")
				assert.ErrorIs(t, last, errStraggler, "the straggler, canceled once the wait timed out")
				s.Root().Cancel(nil) // on failure, the straggler still runs
				_ = s.Shutdown(context.Background())
				st := s.Stats()
				assert.Equal(t, 0, st.InUse, "every slot is back")
				assert.Equal(t, 0, st.OverCap)
			})
		})
	}
}
