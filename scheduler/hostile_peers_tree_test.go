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

// Kotlin: a failing child of a regular Job cancels the parent and its
// other children; a supervised child's failure stays in it.
func TestFailFastParentCancelsTheOtherChildrenOnAChildsFailure(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(8))
	p, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithName("p"))
	require.NoError(t, err)
	var handled atomic.Int32
	c2, err := p.NewScope(scheduler.WithName("c2"), scheduler.Supervise(func(lazytask.Info, error) { handled.Add(1) }))
	require.NoError(t, err)
	c1, err := p.NewScope(scheduler.FailFast(), scheduler.WithName("c1"))
	require.NoError(t, err)
	// a supervised failure: p unaffected
	e0 := errors.New("e0")
	h0, err := scheduler.Go(c2, func(ctx context.Context) error { return e0 })
	require.NoError(t, err)
	<-h0.Done()
	started := make(chan struct{})
	long, err := scheduler.Go(c2, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	})
	require.NoError(t, err)
	<-started
	require.NoError(t, p.Context().Err())
	e1 := errors.New("e1")
	_, err = scheduler.Go(c1, func(ctx context.Context) error { return e1 })
	require.NoError(t, err)
	err = p.Wait(bg)
	var se *scheduler.ScopeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "c1", se.Scope)
	require.ErrorIs(t, err, e1)
	assert.NotErrorIs(t, err, e0)
	<-long.Done()
	assert.Equal(t, lazytask.Canceled, long.State())
	assert.ErrorIs(t, long.Err(), e1)
	assert.EqualValues(t, 1, handled.Load())
	_, err = p.NewScope()
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	_, err = scheduler.Go(c2, func(ctx context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
}

// Trio: the nursery waits for tasks its tasks start, in a chain.
func TestWaitWaitsForAChainOfTasksStartedByTasks(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope(scheduler.FailFast())
	require.NoError(t, err)
	var n atomic.Int32
	var step func(i int) func(ctx context.Context) error
	step = func(i int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			n.Add(1)
			if i < 20 {
				_, err := scheduler.Go(sc, step(i+1))
				return err
			}
			return nil
		}
	}
	_, err = scheduler.Go(sc, step(0))
	require.NoError(t, err)
	require.NoError(t, sc.Wait(bg))
	assert.EqualValues(t, 21, n.Load())
	require.NoError(t, s.Wait(bg))
}
