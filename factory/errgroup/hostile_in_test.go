package errgroup_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/scheduler"
)

// x/sync's semantics, ported onto In groups of a capped scheduler.
func TestInCancelCauseAndWaitCancel(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	e1 := errors.New("e1")
	g, ctx := errgroup.In(bg, s)
	g.Go(func() error { return e1 })
	g.Go(func() error { <-ctx.Done(); return ctx.Err() })
	require.Equal(t, e1, g.Wait())
	assert.Equal(t, e1, context.Cause(ctx))

	g2, ctx2 := errgroup.In(bg, s)
	g2.Go(func() error { return nil })
	require.NoError(t, g2.Wait())
	require.Error(t, ctx2.Err())
	assert.Equal(t, context.Canceled, context.Cause(ctx2))
}

func TestInGoexitAndReuse(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	g, _ := errgroup.In(bg, s)
	g.SetLimit(1)
	g.Go(func() error { runtime.Goexit(); return nil })
	g.Go(func() error { return nil })
	require.NoError(t, g.Wait())
	e := errors.New("second round")
	g.Go(func() error { return e })
	require.Equal(t, e, g.Wait())
	g.Go(func() error { return errors.New("third") })
	require.Equal(t, e, g.Wait(), "the first error sticks, as in x/sync")
	require.True(t, g.TryGo(func() error { return nil }))
	require.NoError(t, func() error { g.Wait(); return nil }())
}

func TestInTryGoAtTheLimitWithACapBelowIt(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	g, _ := errgroup.In(bg, s)
	const n = 5
	g.SetLimit(n)
	rel := make(chan struct{})
	var ran atomic.Int32
	for i := range n {
		require.True(t, g.TryGo(func() error { ran.Add(1); <-rel; return nil }), "TryGo %d", i)
	}
	require.False(t, g.TryGo(func() error { return nil }))
	close(rel)
	require.NoError(t, g.Wait())
	assert.EqualValues(t, n, ran.Load())
	require.True(t, g.TryGo(func() error { return nil }))
	require.NoError(t, g.Wait())
}

// x/sync: the group's context is canceled with the parent's cause when the
// parent ends.
func TestInParentContextCause(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	cause := errors.New("parent gone")
	pctx, cancel := context.WithCancelCause(bg)
	g, ctx := errgroup.In(pctx, s)
	started := make(chan struct{})
	g.Go(func() error { close(started); <-ctx.Done(); return context.Cause(ctx) })
	<-started
	cancel(cause)
	require.Equal(t, cause, g.Wait())
}

// A canceled scope: the refusal counts as an error, never a hang.
func TestInScopeCanceledMidRound(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	g, ctx := errgroup.In(bg, sc)
	started := make(chan struct{})
	g.Go(func() error { close(started); <-ctx.Done(); return nil })
	<-started
	var ran atomic.Int32
	g.Go(func() error { ran.Add(1); return nil }) // queued behind at cap 1
	cause := errors.New("scope canceled")
	sc.Cancel(cause)
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, cause)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait hangs")
	}
	assert.Zero(t, ran.Load())
}
