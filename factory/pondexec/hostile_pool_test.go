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

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestHostilePoolGoexitOnAOneWorkerPoolRunsTheRest(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool)
	bad, err := scheduler.Go(s, func(context.Context) error { runtime.Goexit(); return nil })
	require.NoError(t, err)
	var tasks []*lazytask.Task[struct{}]
	var ran atomic.Int32
	for range 10 {
		tk, err := scheduler.Go(s, func(context.Context) error { ran.Add(1); return nil })
		require.NoError(t, err)
		tasks = append(tasks, tk)
	}
	assert.ErrorIs(t, bad.Wait(bounded(t)), lazytask.ErrGoexit)
	for _, tk := range tasks {
		require.NoError(t, tk.Wait(bounded(t)))
	}
	assert.Equal(t, int32(10), ran.Load())
}

func TestHostilePoolStoppedWhileTasksRunAndQueue(t *testing.T) {
	pool := pond.NewPool(2)
	s := newScheduler(t, pool, scheduler.WithLimit(2))
	release := make(chan struct{})
	var ran atomic.Int32
	var tasks []*lazytask.Task[struct{}]
	for range 10 {
		tk, err := scheduler.Go(s, func(context.Context) error { <-release; ran.Add(1); return nil })
		require.NoError(t, err)
		tasks = append(tasks, tk)
	}
	stopped := pool.Stop() // waits for the runs the pool has
	close(release)
	for _, tk := range tasks {
		require.NoError(t, tk.Wait(bounded(t)))
	}
	require.NoError(t, stopped.Wait())
	assert.Equal(t, int32(10), ran.Load())
	// Submitted after StopAndWait: goroutines of their own.
	tk, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, tk.Wait(bounded(t)))
}

func TestHostilePoolCanceledContextDropsNoRun(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	pool := pond.NewPool(1, pond.WithContext(ctx), pond.WithQueueSize(4))
	t.Cleanup(pool.StopAndWait)
	s := newScheduler(t, pool, scheduler.WithLimit(4))
	release := make(chan struct{})
	var tasks []*lazytask.Task[struct{}]
	for range 8 {
		tk, err := scheduler.Go(s, func(context.Context) error { <-release; return nil })
		require.NoError(t, err)
		tasks = append(tasks, tk)
	}
	cancel()
	close(release)
	for i, tk := range tasks {
		err := tk.Wait(bounded(t))
		require.False(t, errors.Is(err, context.DeadlineExceeded), "task %d hung", i)
	}
}

func TestHostilePoolOneWorkerTasksWaitingForEachOther(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool, scheduler.WithLimit(3))
	a2b := make(chan struct{})
	b2c := make(chan struct{})
	c2a := make(chan struct{})
	ta, _ := scheduler.Go(s, func(context.Context) error { close(a2b); <-c2a; return nil })
	tb, _ := scheduler.Go(s, func(context.Context) error { <-a2b; close(b2c); return nil })
	tc, _ := scheduler.Go(s, func(context.Context) error { <-b2c; close(c2a); return nil })
	for _, tk := range []*lazytask.Task[struct{}]{ta, tb, tc} {
		require.NoError(t, tk.Wait(bounded(t)))
	}
}

func TestHostilePoolErrgroupInOnAOneWorkerPool(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool)
	g, _ := errgroup.In(bg, s)
	var n atomic.Int32
	for range 100 {
		g.Go(func() error {
			var inner errgroup.Group
			inner.Go(func() error { n.Add(1); return nil })
			return inner.Wait()
		})
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("hang")
	}
	assert.Equal(t, int32(100), n.Load())
}

func TestHostilePoolErrgroupPanicRecoveredByPondAtTheLimit(t *testing.T) {
	pool := newPool(t, 2)
	s := newScheduler(t, pool)
	g, _ := errgroup.In(bg, s)
	g.SetLimit(1)
	g.Go(func() error { panic("boom") })
	var ran atomic.Bool
	g.Go(func() error { ran.Store(true); return nil })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		pe, ok := errors.AsType[*lazytask.PanicError](err)
		require.True(t, ok, "Wait() = %v", err)
		assert.Equal(t, "boom", pe.Value)
	case <-time.After(10 * time.Second):
		t.Fatal("hang")
	}
	assert.True(t, ran.Load())
}

func TestHostilePoolErrgroupGoexitOnAOneWorkerPool(t *testing.T) {
	pool := newPool(t, 1)
	s := newScheduler(t, pool)
	g, _ := errgroup.In(bg, s)
	g.SetLimit(1)
	var ran atomic.Int32
	for range 5 {
		g.Go(func() error { runtime.Goexit(); return errors.New("unreachable") })
		g.Go(func() error { ran.Add(1); return nil })
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "a Goexit ends a function without an error")
	case <-time.After(10 * time.Second):
		t.Fatal("hang")
	}
	assert.Equal(t, int32(5), ran.Load())
}
