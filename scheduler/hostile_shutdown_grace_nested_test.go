package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// A child's own graceful Shutdown (no grace bound) in flight does not let
// the child's tasks outlive the parent's grace period.
func TestHostileParentGraceEndsChildsOwnGracefulShutdown(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	child, err := s.Root().NewScope(scheduler.WithName("child"))
	require.NoError(t, err)
	started := make(chan struct{})
	running, err := scheduler.Go(child, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	})
	require.NoError(t, err)
	queued, err := scheduler.Go(child, func(ctx context.Context) error { return nil })
	require.NoError(t, err)
	<-started
	childDone := make(chan error, 1)
	go func() { childDone <- child.Shutdown(context.Background()) }()

	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("grace over"))
	defer cancel()
	err = s.Shutdown(ctx)
	assert.EqualError(t, err, "grace over")
	assert.ErrorIs(t, running.Wait(context.Background()), scheduler.ErrClosed)
	assert.Equal(t, "canceled", queued.State().String())
	cerr := <-childDone
	t.Logf("child's own Shutdown returned %v", cerr)
}

// A second Shutdown returns ErrClosed once it canceled, and the first one too.
func TestHostileSecondShutdownEscalatesBothReturnErrClosed(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(1))
	require.NoError(t, err)
	started := make(chan struct{})
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	})
	require.NoError(t, err)
	<-started
	first := make(chan error, 1)
	go func() { first <- s.Shutdown(context.Background()) }()
	// the first call has sealed the scheduler once a submission is refused
	for {
		_, err := scheduler.Go(s, func(context.Context) error { return nil })
		if errors.Is(err, scheduler.ErrClosed) {
			break
		}
	}
	assert.ErrorIs(t, s.Shutdown(context.Background()), scheduler.ErrClosed)
	assert.ErrorIs(t, <-first, scheduler.ErrClosed)
	assert.ErrorIs(t, h.Wait(context.Background()), scheduler.ErrClosed)
}
