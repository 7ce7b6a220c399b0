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

// A yield that flips between calls, with hooks of every kind and done
// callbacks: every task runs once, the cap holds, each hook fires once per
// task, each callback runs once, and Shutdown returns with nothing left
// running (goleak in TestMain).
func TestHostileYieldThatFlipsKeepsEveryTaskOnce(t *testing.T) {
	var n atomic.Int64
	p := &recoveringExec{yield: func() bool { return n.Add(1)%3 != 0 }}
	var starts, dones atomic.Int64
	s, err := scheduler.New(scheduler.WithLimit(3), scheduler.WithYieldingExecutor(p.exec),
		scheduler.WithHooks(scheduler.Hooks{
			OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
				starts.Add(1)
				return ctx
			},
			OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { dones.Add(1) },
		}))
	require.NoError(t, err)
	const tasks = 300
	var now, peak atomic.Int64
	var mu sync.Mutex
	ran := make(map[int]int)
	var callbacks atomic.Int64
	gate := make(chan struct{})
	for i := range tasks {
		h, err := scheduler.Go(s, func(context.Context) error {
			if i < 3 {
				<-gate
			}
			v := now.Add(1)
			for {
				old := peak.Load()
				if v <= old || peak.CompareAndSwap(old, v) {
					break
				}
			}
			defer now.Add(-1)
			mu.Lock()
			ran[i]++
			mu.Unlock()
			return nil
		})
		require.NoError(t, err)
		h.OnDone(func(struct{}, error) { callbacks.Add(1) })
	}
	close(gate)
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Len(t, ran, tasks)
	for i, k := range ran {
		if k != 1 {
			t.Errorf("task %d ran %d times", i, k)
		}
	}
	assert.LessOrEqual(t, peak.Load(), int64(3), "the cap holds")
	assert.Equal(t, int64(tasks), starts.Load())
	assert.Equal(t, int64(tasks), dones.Load())
	assert.Equal(t, int64(tasks), callbacks.Load())
	assert.Zero(t, p.recovered.Load())
	st := s.Stats()
	assert.Equal(t, uint64(tasks), st.Succeeded)
	assert.Zero(t, st.Running)
}

// Shutdown while every worker yields each chained task back (the pool
// wants its goroutines: a stopped pool): the handed-back tasks, admitted
// already, still run, once, and Shutdown waits for them.
func TestHostileYieldShutdownWaitsForHandedBackTasks(t *testing.T) {
	p := &recoveringExec{yield: func() bool { return true }}
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithYieldingExecutor(p.exec))
	require.NoError(t, err)
	gate := make(chan struct{})
	var ran atomic.Int64
	const tasks = 100
	for i := range tasks {
		_, err := scheduler.Go(s, func(context.Context) error {
			if i < 2 {
				<-gate
			}
			ran.Add(1)
			return nil
		})
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(bounded(t)) }()
	close(gate)
	require.NoError(t, <-done)
	assert.Equal(t, int64(tasks), ran.Load(), "Shutdown returned before every handed-back task ran")
}
