package pondexec_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// pond's own guarantees, kept when the pool runs a scheduler's tasks: its
// metrics add up, StopAndWait returns once the scheduler is idle (a parked
// goroutine of the scheduler gives its worker back), a Resize of the pool
// under load loses no task, and the scheduler's counters add up after a mix.

func hoStatsAddUp(t *testing.T, st scheduler.Stats, when string) {
	t.Helper()
	sum := st.Succeeded + st.Failed + st.Canceled + st.Rejected + uint64(st.Queued+st.Running+st.Lazy)
	assert.Equal(t, st.Created, sum, "%s: Stats = %+v", when, st)
}

func TestHoPondMetricsAndStopAndWaitAfterAMix(t *testing.T) {
	pool := pond.NewPool(4)
	s := newScheduler(t, pool, scheduler.WithLimit(3), scheduler.WithQueueLimit(64))
	gate := make(chan struct{})
	var hs []*lazytask.Task[struct{}]
	kinds := []func(context.Context) error{
		func(context.Context) error { <-gate; return nil },
		func(context.Context) error { <-gate; return errors.New("fails") },
		func(context.Context) error { <-gate; panic("boom") },
		func(context.Context) error { <-gate; runtime.Goexit(); return nil },
	}
	for i := range 40 {
		h, err := scheduler.Go(s, kinds[i%len(kinds)])
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs[30:] {
		h.Cancel(nil)
	}
	require.NoError(t, s.Force(hs[29]))
	require.NoError(t, s.Resize(5))
	pool.Resize(2) // the pool shrinks under load: the runs it cannot take get goroutines
	close(gate)
	for i, h := range hs {
		err := h.Wait(bounded(t))
		require.False(t, errors.Is(err, context.DeadlineExceeded), "task %d hung", i)
	}
	require.NoError(t, s.Wait(bounded(t)))
	st := s.Stats()
	hoStatsAddUp(t, st, "idle")
	assert.Equal(t, uint64(10), st.Canceled, "Canceled")
	assert.Equal(t, uint64(8), st.Succeeded, "Succeeded")
	assert.Equal(t, uint64(22), st.Failed, "Failed (errors, panics, Goexits)")
	assert.Equal(t, 0, st.InUse+st.OverCap+st.Running+st.Queued)

	// The pool stops once the scheduler is idle: no worker is kept.
	stopped := make(chan struct{})
	go func() { pool.StopAndWait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatalf("pool.StopAndWait() with an idle scheduler: still waiting after 10s (RunningWorkers %d)", pool.RunningWorkers())
	}
	assert.Equal(t, int64(0), pool.RunningWorkers(), "pool.RunningWorkers() after StopAndWait")
	assert.Equal(t, pool.SubmittedTasks()-pool.DroppedTasks(), pool.CompletedTasks()+pool.CanceledTasks(),
		"pond: submitted %d, dropped %d = completed %d + canceled %d", pool.SubmittedTasks(), pool.DroppedTasks(), pool.CompletedTasks(), pool.CanceledTasks())
	// The scheduler goes on without its pool.
	v, err := scheduler.Submit(s, func(context.Context) (int, error) { return 9, nil })
	require.NoError(t, err)
	got, err := v.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 9, got)
}

// A pool with its own context canceled while the scheduler has work: the
// pool stops (pond's context cancellation), the scheduler's tasks are not
// canceled by it and all run; Stop then Submit on the scheduler is
// ErrClosed, as pond's ErrPoolStopped.
func TestHoPondContextCanceledUnderLoadThenShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	pool := pond.NewPool(2, pond.WithContext(ctx))
	t.Cleanup(pool.StopAndWait)
	s := newScheduler(t, pool, scheduler.WithLimit(2))
	release := make(chan struct{})
	var ran atomic.Int32
	var hs []*lazytask.Task[struct{}]
	for range 20 {
		h, err := scheduler.Go(s, func(ctx context.Context) error { <-release; ran.Add(1); return ctx.Err() })
		require.NoError(t, err)
		hs = append(hs, h)
	}
	cancel()
	close(release)
	for i, h := range hs {
		require.NoError(t, h.Wait(bounded(t)), "task %d", i)
	}
	assert.Equal(t, int32(20), ran.Load())
	require.NoError(t, s.Shutdown(bounded(t)))
	_, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrClosed)
	hoStatsAddUp(t, s.Stats(), "after shutdown")
}

// A task that submits to its own scheduler on a one-worker pool at cap 1
// and awaits it (pond #56): it completes.
func TestHoPondReentrantAtCapOneOnOneWorker(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool, scheduler.WithLimit(1))
	var depth func(ctx context.Context, n int) (int, error)
	depth = func(ctx context.Context, n int) (int, error) {
		if n == 0 {
			return 0, nil
		}
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return depth(ctx, n-1) })
		if err != nil {
			return 0, err
		}
		v, err := h.Await(ctx)
		return v + 1, err
	}
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return depth(ctx, 5) })
	require.NoError(t, err)
	v, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, 5, v)
}
