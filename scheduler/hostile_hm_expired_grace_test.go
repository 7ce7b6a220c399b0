package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestHMShutdownWithAnEndedGraceStartsNoQueuedTask: Shutdown(ctx) with a
// ctx that has already ended has no grace period: it cancels at once
// (Trio's cancel_scope.cancel(), asyncio's TaskGroup abort), and a queued
// task never starts. A task that ends while Shutdown closes the subtree
// used to hand its slot to a queued task, which ran its function before
// the cancellation came: here the running task ends from the done
// callback of a Lazy task that the close cancels, which runs in that gap.
func TestHMShutdownWithAnEndedGraceStartsNoQueuedTask(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(4))
	sc := hsScope(t, s.Root(), scheduler.WithName("sc"), scheduler.WithLimit(1))
	release := make(chan struct{})
	started := make(chan struct{})
	holder, err := scheduler.Submit(sc, func(context.Context) (int, error) {
		close(started)
		<-release
		return 1, nil
	})
	require.NoError(t, err)
	hsWithin(t, started, "holder")
	var runs atomic.Int32
	queued, err := scheduler.Submit(sc, scCount(&runs))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, queued.State())
	lazy := scheduler.NewTask(sc, scCount(&runs))
	lazy.OnDone(func(int, error) {
		close(release)
		<-holder.Done()
	})

	ctx, cancel := context.WithCancelCause(context.Background())
	over := errors.New("hm: no grace")
	cancel(over)
	assert.ErrorIs(t, sc.Shutdown(ctx), over)
	_, err = hsAwait(t, holder)
	assert.NoError(t, err, "the holder finished on its own")
	_, err = hsAwait(t, queued)
	assert.Zero(t, runs.Load(), "a queued task ran under a Shutdown whose grace had ended")
	assert.Equal(t, lazytask.Canceled, queued.State())
	assert.ErrorIs(t, err, scheduler.ErrClosed)
}
