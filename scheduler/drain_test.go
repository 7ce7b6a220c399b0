package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Shutdown's drain of a backlog. Tasks whose ends are followed by user
// code (done hooks, done callbacks) used to start one goroutine each once
// Shutdown had begun: the done queue was off and no goroutine parked. A
// submit-then-Shutdown of 1,000,000 no-op tasks with empty hooks took
// 1.8-2.7 µs a task against 0.33-0.54 µs with none (2026-12-05, 2 cores).

// drainMaxSpawned bounds the goroutines a drain of 3,000 tasks at cap 1
// may start. Before the fix it started 3,000; now 1-5 in most runs, and up
// to about 250 in a few under the race detector (goroutines still inside
// their callbacks when the next task starts, and some exiting with the
// parked list full).
const drainMaxSpawned = 750

// During Shutdown's drain, done hooks still go to the done queue, each
// runs exactly once before Shutdown returns, and the drain reuses its
// goroutines.
func TestShutdownDrainKeepsTheDoneQueue(t *testing.T) {
	const n = 3000
	var counts dhCounts
	counts.n = map[int]int{}
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { counts.add(hdID(h)) },
	}))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, nil)
	before := scheduler.Spawned(s)
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	scheduler.AwaitWaiting(s.Root()) // Shutdown has begun: the root is closed
	g.open()
	require.NoError(t, <-shut)
	counts.each(t, n, "after Shutdown")
	for i, h := range hs {
		v, err := h.Await(t.Context())
		require.NoError(t, err, "task %d", i)
		require.Equal(t, i, v)
	}
	pushed, _ := scheduler.DoneQueue(s)
	assert.Positive(t, pushed, "hooks of tasks that ended during the drain went to the done queue")
	assert.LessOrEqual(t, scheduler.Spawned(s)-before, drainMaxSpawned, "goroutines started for %d tasks drained", n)
}

// During Shutdown's drain, a goroutine whose task's done callbacks run
// after it parks for the next task instead of exiting, and every callback
// runs exactly once.
func TestShutdownDrainReusesGoroutinesAfterCallbacks(t *testing.T) {
	const n = 3000
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, nil)
	calls := make([]atomic.Int32, n+1)
	for i, h := range hs {
		h.OnDone(func(v int, err error) {
			assert.NoError(t, err)
			assert.Equal(t, i, v)
			calls[i].Add(1)
		})
	}
	before := scheduler.Spawned(s)
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	scheduler.AwaitWaiting(s.Root())
	g.open()
	require.NoError(t, <-shut)
	for i := range calls {
		require.EqualValues(t, 1, calls[i].Load(), "callback of task %d", i)
	}
	assert.LessOrEqual(t, scheduler.Spawned(s)-before, drainMaxSpawned, "goroutines started for %d tasks drained", n)
	assert.Zero(t, scheduler.Parked(s), "Shutdown dismissed the goroutines that parked during the drain")
}

// The root scope shut down alone (not the scheduler): goroutines that
// parked during its drain are not left behind, the reaper dismisses them.
// And once the scheduler's Shutdown dismissed the parked, none parks again
// (a task still running then ends on a goroutine that exits).
func TestRootScopeDrainParkedAreReaped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(2))
		require.NoError(t, err)
		g := newGate(t)
		_, err = scheduler.Submit(s, g.fn)
		require.NoError(t, err)
		<-g.started
		var ran atomic.Int32
		for range 100 {
			h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil })
			require.NoError(t, err)
			h.OnDone(func(int, error) { ran.Add(1) })
		}
		shut := make(chan error, 1)
		go func() { shut <- s.Root().Shutdown(context.Background()) }()
		synctest.Wait()
		g.open()
		require.NoError(t, <-shut)
		synctest.Wait()
		require.EqualValues(t, 100, ran.Load(), "every callback ran")
		time.Sleep(2*scheduler.ReapPeriod + time.Nanosecond)
		synctest.Wait()
		require.Zero(t, scheduler.Parked(s), "the reaper dismissed the goroutines parked during the drain")
		require.ErrorIs(t, s.Shutdown(context.Background()), scheduler.ErrClosed)
		// The bubble ends only once every goroutine of s has exited.
	})
}
