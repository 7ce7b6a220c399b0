package scheduler_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// parkFour runs four tasks at once on s (cap 4) and lets them end
// together: their goroutines linger, then park. Inside a synctest bubble.
func parkFour(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	release := make(chan struct{})
	var hs []*lazytask.Task[struct{}]
	for range 4 {
		h, err := scheduler.Submit(s, func(context.Context) (struct{}, error) {
			<-release
			return struct{}{}, nil
		})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	synctest.Wait()
	close(release)
	for _, h := range hs {
		_, err := h.Await(t.Context())
		require.NoError(t, err)
	}
	synctest.Wait()
}

// The goroutines of tasks that have ended park; a task submitted then runs
// on one of them, not on a new goroutine.
func TestEndedTasksGoroutinesParkAndRunTheNextTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4))
		require.NoError(t, err)
		defer s.Shutdown(context.Background())
		parkFour(t, s)
		require.Equal(t, 4, scheduler.Parked(s), "every goroutine parked")
		before := runtime.NumGoroutine()
		var during atomic.Int64
		release := make(chan struct{})
		h, err := scheduler.Submit(s, func(context.Context) (struct{}, error) {
			during.Store(int64(runtime.NumGoroutine()))
			<-release
			return struct{}{}, nil
		})
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, 3, scheduler.Parked(s), "the task took a parked goroutine")
		require.Equal(t, int64(before), during.Load(), "no goroutine was started for it")
		close(release)
		_, err = h.Await(t.Context())
		require.NoError(t, err)
	})
}

// A scheduler left idle, never shut down, holds no goroutine for long: the
// reaper dismisses those parked for a whole period.
func TestTheReaperDismissesIdleGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4))
		require.NoError(t, err)
		parkFour(t, s)
		require.Equal(t, 4, scheduler.Parked(s))
		require.True(t, scheduler.Reaping(s))
		time.Sleep(2*scheduler.ReapPeriod + time.Nanosecond)
		synctest.Wait()
		require.Zero(t, scheduler.Parked(s), "all dismissed after two periods")
		require.False(t, scheduler.Reaping(s), "the reaper disarms when none is parked")
		// The bubble ends only once every goroutine of s has exited.
	})
}

// Shutdown dismisses the parked goroutines at once and disarms the
// reaper, and none parks after it.
func TestShutdownDismissesParkedGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4))
		require.NoError(t, err)
		parkFour(t, s)
		require.Equal(t, 4, scheduler.Parked(s))
		require.NoError(t, s.Shutdown(context.Background()))
		require.Zero(t, scheduler.Parked(s))
		require.False(t, scheduler.Reaping(s))
	})
}

// A task that shuts its scheduler down while goroutines are parked does
// not wait for them (they are not running tasks), and they are dismissed.
func TestShutdownFromATaskWithParkedGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4))
		require.NoError(t, err)
		parkFour(t, s)
		h, err := scheduler.Submit(s, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.Shutdown(ctx)
		})
		require.NoError(t, err)
		_, err = h.Await(t.Context())
		require.NoError(t, err)
		require.ErrorIs(t, s.Shutdown(context.Background()), scheduler.ErrClosed, "a second Shutdown")
		require.Zero(t, scheduler.Parked(s))
	})
}

// With an executor the executor owns the goroutines: none parks.
func TestNoGoroutineParksUnderAnExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithExecutor(func(run func()) { go run() }))
		require.NoError(t, err)
		defer s.Shutdown(context.Background())
		parkFour(t, s)
		require.Zero(t, scheduler.Parked(s))
	})
}

// A task whose done hook is still running when the next queued task is
// admitted does not run that task: a parked goroutine does (I11), and the
// hook's goroutine parks once the hook returns.
func TestAParkedGoroutineRunsWhatADoneHookWouldDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hookIn, hookOut := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
			OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) {
				if first.CompareAndSwap(true, false) {
					close(hookIn)
					<-hookOut
				}
			},
		}))
		require.NoError(t, err)
		defer s.Shutdown(context.Background())
		parkFour(t, s) // cap 1: they run one after another; one goroutine is left parked
		first.Store(true)
		parked := scheduler.Parked(s)
		require.Positive(t, parked)
		a, err := scheduler.Submit(s, func(context.Context) (struct{}, error) { return struct{}{}, nil })
		require.NoError(t, err)
		<-hookIn // a has ended; its hook runs
		b, err := scheduler.Submit(s, func(context.Context) (struct{}, error) { return struct{}{}, nil })
		require.NoError(t, err)
		_, err = b.Await(t.Context()) // ran while a's hook still blocks
		require.NoError(t, err)
		close(hookOut)
		_, err = a.Await(t.Context())
		require.NoError(t, err)
		synctest.Wait()
		require.GreaterOrEqual(t, scheduler.Parked(s), parked, "a's and b's goroutines parked again")
	})
}
