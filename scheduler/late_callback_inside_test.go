package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// I11: "a callback that awaits another task ... cannot deadlock", also for
// a callback registered after its task's end by a running task: it runs on
// the registrant's goroutine before OnDone returns, inside that task, as
// the callbacks that a Cancel from inside a task runs do. At cap 1 the
// registrant holds the only slot; the callback's wait, made with a context
// of its own, must lend it, or the task queued behind never runs. Before,
// the callback's Await waited until its own context ended (an hour of the
// bubble's clock), in every run.
func TestACallbackRegisteredAfterTheEndFromInsideATaskMayAwaitATaskQueuedBehind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ended func(t *testing.T, s *scheduler.Scheduler) func() *lazytask.Task[int]
	}{
		{"an unbound task it canceled", func(*testing.T, *scheduler.Scheduler) func() *lazytask.Task[int] {
			return func() *lazytask.Task[int] {
				k := lazytask.New(func(context.Context) (int, error) { return 0, nil })
				k.Cancel(nil)
				return k
			}
		}},
		{"a task of the scheduler that ended before it started", func(t *testing.T, s *scheduler.Scheduler) func() *lazytask.Task[int] {
			k, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
			require.NoError(t, err)
			return func() *lazytask.Task[int] { return k }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := scheduler.New(scheduler.WithLimit(1))
				require.NoError(t, err)
				ended := tc.ended(t, s)
				var behind *lazytask.Task[int]
				got := make(chan error, 1)
				queued := make(chan struct{})
				registrant, err := scheduler.Submit(s, func(context.Context) (int, error) {
					<-queued // behind waits in the queue
					k := ended()
					require.True(t, k.State().Terminal())
					k.OnDone(func(int, error) {
						// A context of its own: an hour is "never" here.
						wctx, cancel := context.WithTimeout(context.Background(), time.Hour)
						defer cancel()
						_, err := behind.Await(wctx)
						got <- err
					})
					return 1, nil
				})
				require.NoError(t, err)
				behind, err = scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
				require.NoError(t, err)
				close(queued)
				assert.NoError(t, <-got, "the late callback's Await of the task queued behind, at cap 1")
				_, err = registrant.Await(context.Background())
				require.NoError(t, err)
				require.NoError(t, s.Shutdown(context.Background()))
				st := s.Stats()
				assert.Equal(t, 0, st.InUse, "every slot is back")
				assert.Equal(t, 0, st.OverCap)
			})
		})
	}
}

// I11: "a callback that ... shuts its scheduler down cannot deadlock", also
// for one registered after its task's end by a running task: it is inside
// that task, so its Shutdown leaves the task out. Before, the Shutdown
// waited for the registrant, which waited in OnDone for the Shutdown, in
// every run (until the grace period ended, then for ever).
func TestACallbackRegisteredAfterTheEndFromInsideATaskMayShutTheSchedulerDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1))
		require.NoError(t, err)
		shut := make(chan error, 1)
		registrant, err := scheduler.Submit(s, func(context.Context) (int, error) {
			k := lazytask.New(func(context.Context) (int, error) { return 0, nil })
			k.Cancel(nil)
			k.OnDone(func(int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				shut <- s.Shutdown(ctx)
			})
			return 1, nil
		})
		require.NoError(t, err)
		assert.NoError(t, <-shut, "Shutdown from a late callback inside a task")
		v, err := registrant.Await(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		assert.ErrorIs(t, s.Shutdown(context.Background()), scheduler.ErrClosed, "a second Shutdown")
		assert.Equal(t, 0, s.Stats().Running)
	})
}
