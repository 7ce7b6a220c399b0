package lazytask_test

// Hostile review hN: a lazytask on its own (no scheduler), under
// testing/synctest's clock, as a Kotlin (withTimeout in an async(LAZY)),
// Trio (fail_after) or asyncio (wait_for) user would test it.

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// A Lazy task's timeout counts from Start, not from New: an hour between
// them does not eat its 5s.
func TestHNTimeoutCountsFromStartNotFromNew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var sawDeadline time.Time
		h := lazytask.New(func(ctx context.Context) (int, error) {
			sawDeadline, _ = ctx.Deadline()
			<-ctx.Done()
			return 0, ctx.Err()
		}, lazytask.WithTimeout(5*time.Second), lazytask.WithTimings())
		time.Sleep(time.Hour)
		require.NoError(t, h.Start())
		_, err := h.Await(bg)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Failed, h.State(), "its own timeout fails it")
		assert.Equal(t, time.Hour+5*time.Second, time.Since(t0), "ended at Start + 5s")
		assert.True(t, sawDeadline.Equal(t0.Add(time.Hour+5*time.Second)), "ctx.Deadline() = %v", sawDeadline)
		tm := h.Timings()
		assert.True(t, tm.Created.Equal(t0), "Created %v", tm.Created)
		assert.True(t, tm.Started.Equal(t0.Add(time.Hour)), "Started %v", tm.Started)
		assert.True(t, tm.Finished.Equal(t0.Add(time.Hour+5*time.Second)), "Finished %v", tm.Finished)
		assert.Equal(t, 5*time.Second, tm.RunTime())
	})
}

// Deadline edges for a task started on its own.
func TestHNDeadlineEdgesOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		for _, tc := range []struct {
			name     string
			opt      lazytask.Option
			runs     bool
			deadline time.Time // zero: none
		}{
			{"past", lazytask.WithDeadline(now.Add(-time.Second)), false, time.Time{}},
			{"now", lazytask.WithDeadline(now), false, time.Time{}},
			{"year 1", lazytask.WithDeadline(time.Time{}.Add(1)), false, time.Time{}},
			{"zero", lazytask.WithDeadline(time.Time{}), true, time.Time{}},
			{"far", lazytask.WithDeadline(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), true, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
			{"timeout MaxInt64", lazytask.WithTimeout(math.MaxInt64), true, now.Add(math.MaxInt64)},
		} {
			var ran atomic.Bool
			var saw time.Time
			h := lazytask.New(func(ctx context.Context) (int, error) {
				ran.Store(true)
				saw, _ = ctx.Deadline()
				return 1, nil
			}, tc.opt)
			require.NoError(t, h.Start(), tc.name)
			_, err := h.Await(bg)
			assert.Equal(t, tc.runs, ran.Load(), "%s: ran", tc.name)
			if tc.runs {
				assert.NoError(t, err, tc.name)
				assert.True(t, saw.Equal(tc.deadline), "%s: ctx.Deadline() = %v; want %v", tc.name, saw, tc.deadline)
			} else {
				assert.ErrorIs(t, err, context.DeadlineExceeded, tc.name)
				assert.Equal(t, lazytask.Failed, h.State(), tc.name)
			}
		}
	})
}

// A Lazy task whose deadline passes while nobody started it: Start then
// ends it Failed without running it (it does not run late).
func TestHNDeadlinePassedWhileLazy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ran atomic.Bool
		h := lazytask.New(func(context.Context) (int, error) { ran.Store(true); return 0, nil },
			lazytask.WithDeadline(time.Now().Add(time.Second)))
		time.Sleep(2 * time.Second)
		assert.Equal(t, lazytask.Lazy, h.State(), "a Lazy task is not ended by its deadline: nothing watches it")
		require.NoError(t, h.Start())
		_, err := h.Await(bg)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, ran.Load())
	})
}

// The timeout's timer fires at the very instant the function returns (the
// same fake instant): one terminal state, consistent with the return, one
// callback each.
func TestHNTimeoutAtTheInstantTheFunctionReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100
		var cbs [n]atomic.Int32
		hs := make([]*lazytask.Task[int], n)
		rets := make([]atomic.Value, n)
		for i := range n {
			hs[i] = lazytask.New(func(ctx context.Context) (int, error) {
				select {
				case <-time.After(time.Second):
					rets[i].Store("nil")
					return 1, nil
				case <-ctx.Done():
					rets[i].Store("ctx")
					return 0, ctx.Err()
				}
			}, lazytask.WithTimeout(time.Second))
			hs[i].OnDone(func(int, error) { cbs[i].Add(1) })
			require.NoError(t, hs[i].Start())
		}
		for i, h := range hs {
			_, _ = h.Await(bg)
			synctest.Wait()
			switch rets[i].Load() {
			case "nil":
				assert.Equal(t, lazytask.Succeeded, h.State(), "task %d returned nil", i)
			case "ctx":
				assert.Equal(t, lazytask.Failed, h.State(), "task %d returned its timeout", i)
			}
			assert.Equal(t, int32(1), cbs[i].Load(), "task %d callbacks", i)
		}
	})
}

// asyncio.wait_for cancels the awaited task on timeout; Await does not
// (documented, I8): the task goes on and ends on its own.
func TestHNAwaitTimeoutLeavesTheTaskRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := lazytask.New(func(ctx context.Context) (int, error) {
			time.Sleep(10 * time.Second)
			return 7, ctx.Err()
		})
		require.NoError(t, h.Start())
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		_, err := h.Await(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Running, h.State())
		v, err := h.Await(bg)
		assert.NoError(t, err)
		assert.Equal(t, 7, v)
	})
}

// A task started on its own past its deadline has ended, and its Timings
// should say when (see the scheduler package's
// TestHNTaskAdmittedPastItsDeadlineHasAFinishedTime).
func TestHNStartedPastItsDeadlineHasAFinishedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := lazytask.New(func(context.Context) (int, error) { return 0, nil },
			lazytask.WithDeadline(time.Now().Add(time.Second)), lazytask.WithTimings())
		time.Sleep(2 * time.Second)
		require.NoError(t, h.Start())
		_, err := h.Await(bg)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		tm := h.Timings()
		assert.True(t, tm.Started.IsZero(), "Started %v of a task that never ran", tm.Started)
		assert.True(t, tm.Finished.Equal(time.Now()), "Finished = %v; want %v", tm.Finished, time.Now())
	})
}
