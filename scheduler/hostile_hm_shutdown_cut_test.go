package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestHMChildsOwnShutdownCutShortByItsParentsGraceSaysSo: a child's own
// graceful Shutdown whose tasks the parent's end of grace cancels did not
// see "everything finish within the grace period": like a first call that
// a second one escalated, it returns ErrClosed, not nil (before the fix it
// returned nil, which reads as a clean drain).
func TestHMChildsOwnShutdownCutShortByItsParentsGraceSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		child, err := s.Root().NewScope(scheduler.WithName("child"), scheduler.FailFast())
		require.NoError(t, err)
		started := make(chan struct{})
		running, err := scheduler.Go(child, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return context.Cause(ctx)
		})
		require.NoError(t, err)
		var runs atomic.Int32
		queued, err := scheduler.Submit(child, scCount(&runs))
		require.NoError(t, err)
		<-started
		childDone := make(chan error, 1)
		go func() { childDone <- child.Shutdown(context.Background()) }()
		synctest.Wait() // the child's Shutdown waits in its grace

		grace := errors.New("hm: parent's grace over")
		ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, grace)
		defer cancel()
		assert.ErrorIs(t, s.Shutdown(ctx), grace)
		assert.ErrorIs(t, running.Wait(context.Background()), scheduler.ErrClosed)
		assert.Equal(t, lazytask.Canceled, queued.State())
		assert.Zero(t, runs.Load())
		cerr := <-childDone
		assert.ErrorIs(t, cerr, scheduler.ErrClosed, "the child's own Shutdown was cut short; got %v", cerr)
	})
}

// TestHMChildsOwnShutdownThatDrainedInTimeReturnsNil: the other side of
// the above: a child's own Shutdown whose tasks all finished reports its
// errors (none here), even though the parent shut down meanwhile.
func TestHMChildsOwnShutdownThatDrainedInTimeReturnsNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		child, err := s.Root().NewScope(scheduler.WithName("child"), scheduler.FailFast())
		require.NoError(t, err)
		g := hsNewGateNoT()
		_, err = scheduler.Submit(child, g.fn)
		require.NoError(t, err)
		<-g.started
		childDone := make(chan error, 1)
		go func() { childDone <- child.Shutdown(context.Background()) }()
		synctest.Wait()
		parentDone := make(chan error, 1)
		go func() { parentDone <- s.Shutdown(context.Background()) }()
		synctest.Wait()
		g.open()
		assert.NoError(t, <-childDone)
		assert.NoError(t, <-parentDone)
	})
}

// TestHMShutdownOfAScopeThatFailedWithErrClosedJoinsItsErrors: a task that
// returns ErrClosed itself (say, from a Submit to a closed scope) fails
// its fail-fast scope with that error as the cause; the scope's Shutdown
// then reports the scope's errors, every one, not a bare ErrClosed as if
// a parent's grace had cut it.
func TestHMShutdownOfAScopeThatFailedWithErrClosedJoinsItsErrors(t *testing.T) {
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	started := make(chan struct{})
	_, err := scheduler.Go(sc, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return hmErrClean
	})
	require.NoError(t, err)
	hsWithin(t, started, "task")
	_, err = scheduler.Go(sc, func(context.Context) error { return scheduler.ErrClosed })
	require.NoError(t, err)
	require.Error(t, hsWait(t, sc))
	err = sc.Shutdown(context.Background())
	assert.ErrorIs(t, err, scheduler.ErrClosed)
	assert.ErrorIs(t, err, hmErrClean, "Shutdown = %v", err)
	assert.Len(t, hsJoined(err), 2, "Shutdown = %v", err)
}
