package pondexec_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// WithPool promises that once pool is stopped a run goes to a goroutine of
// its own. A run that pond took before its Stop kept its worker for every
// task the scheduler chained onto that goroutine afterwards, so a stopped
// pool went on running the scheduler's tasks, and its Stop did not
// complete while the scheduler had work: here a task submitted after
// pool.Stop, which waits for that Stop, waited for ever (until the test's
// bound) on a pool of 1 at cap 1. The worker now yields to the Stop.
func TestHostileStoppedPoolRunsNoTaskSubmittedAfterItsStop(t *testing.T) {
	pool := pond.NewPool(1)
	s := newScheduler(t, pool, scheduler.WithLimit(1))
	started, release := make(chan struct{}), make(chan struct{})
	a, err := scheduler.Go(s, func(context.Context) error { close(started); <-release; return nil })
	require.NoError(t, err)
	<-started
	require.Equal(t, int64(1), pool.RunningWorkers(), "the first task runs on the pool's worker")
	stopped := pool.Stop()
	// pond marks itself stopped from a task of its own, a moment after
	// Stop returns; until then it still takes work (its own Go too).
	waitFor(t, pool.Stopped, "the pool marks itself stopped")
	b, err := scheduler.Go(s, func(ctx context.Context) error {
		select {
		case <-stopped.Done():
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}) // queued behind a at cap 1
	require.NoError(t, err)
	close(release)
	require.NoError(t, a.Wait(bounded(t)))
	ctx := bounded(t)
	assert.NoError(t, b.Wait(ctx), "a task submitted after the pool's Stop ran on the stopped pool's worker, so the Stop could not complete")
	b.Cancel(context.Canceled)
	_ = b.Wait(bg)
	require.NoError(t, stopped.Wait())
}

// The same capture starved the pool's other users: pond's package doc
// has users keep their pool, but a worker that ran one of the scheduler's
// tasks stayed in the scheduler's loop while the scheduler had tasks to
// chain onto it; it now yields to work waiting in the pool. On a pool of 1, with a stream of tasks at cap 1 (each
// submits the next, as handlers of a busy server do), a function given to
// pool directly never runs until the stream stops (here: the test's
// bound).
func TestHostileStoppedPoolOtherUsersAreNotStarvedByAStream(t *testing.T) {
	pool := pond.NewPool(1)
	t.Cleanup(pool.StopAndWait)
	s := newScheduler(t, pool, scheduler.WithLimit(1))
	ctx := bounded(t)
	direct := make(chan struct{})
	started := make(chan struct{})
	var next func(context.Context) error
	next = func(context.Context) error {
		select {
		case <-started:
		default:
			close(started)
		}
		select {
		case <-direct:
			return nil // the pool's own user ran: the stream ends
		case <-ctx.Done():
			return nil // the bound passed: end the stream, the test fails
		default:
		}
		_, err := scheduler.Go(s, next)
		return err
	}
	_, err := scheduler.Go(s, next)
	require.NoError(t, err)
	<-started
	require.NoError(t, pool.Go(func() { close(direct) }))
	select {
	case <-direct:
	case <-ctx.Done():
		t.Fatal("a function given to the pool directly never ran while the scheduler streamed tasks")
	}
}

// waitFor polls cond, yielding the processor between looks, until it holds
// or the test's bound passes.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	ctx := bounded(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		default:
			runtime.Gosched()
		}
	}
}
