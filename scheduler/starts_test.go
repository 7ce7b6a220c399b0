package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// With no cap, every task submitted runs at once, in a burst too, where
// tasks wait for a goroutine to begin rather than each starting one
// (starts.go): a burst of tasks that each wait until all of them run
// ends, which it cannot if any of them waits for another to end.
func TestBurstWithNoCapRunsEveryTaskAtOnce(t *testing.T) {
	for _, n := range []int{2, 50, 1000} {
		s := startScheduler(t, scheduler.Unlimited())
		var started atomic.Int32
		all := make(chan struct{})
		hs := make([]*lazytask.Task[int], 0, n)
		for i := range n {
			h, err := scheduler.Submit(s.Root(), func(context.Context) (int, error) {
				if started.Add(1) == int32(n) {
					close(all)
				}
				<-all
				return i, nil
			})
			require.NoError(t, err)
			hs = append(hs, h)
		}
		for i, h := range hs {
			v, err := h.Await(bg)
			require.NoError(t, err)
			assert.Equal(t, i, v)
		}
		require.NoError(t, s.Shutdown(bg))
	}
}

// A task that blocks for good does not hold up the burst behind it, nor
// does a run of them: the goroutine that takes a task from the burst
// starts the next goroutine before it runs the task.
func TestBurstWithNoCapBehindBlockedTasks(t *testing.T) {
	s := startScheduler(t, scheduler.Unlimited())
	block := make(chan struct{})
	for range 20 {
		_, err := scheduler.Go(s.Root(), func(context.Context) error { <-block; return nil })
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	wg.Add(500)
	for range 500 {
		_, err := scheduler.Go(s.Root(), func(context.Context) error { wg.Done(); return nil })
		require.NoError(t, err)
	}
	wg.Wait()
	close(block)
	require.NoError(t, s.Shutdown(bg))
	st := s.Stats()
	assert.Equal(t, uint64(520), st.Succeeded)
}

// Tasks of a burst that a Shutdown meets still waiting for a goroutine
// run: nothing admitted is lost.
func TestBurstWithNoCapThenShutdownRunsEveryTask(t *testing.T) {
	s := startScheduler(t, scheduler.Unlimited())
	var ran atomic.Int32
	for range 2000 {
		_, err := scheduler.Go(s.Root(), func(context.Context) error { ran.Add(1); return nil })
		require.NoError(t, err)
	}
	require.NoError(t, s.Shutdown(bg))
	assert.Equal(t, int32(2000), ran.Load())
	assert.Equal(t, uint64(2000), s.Stats().Succeeded)
}
