package factory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The package doc: "They submit without waiting for queue room: on a
// scheduler with a bounded queue (scheduler.WithQueueLimit), a task past the
// room is refused, and its result carries scheduler.ErrQueueFull, as
// Submit's refusal; give such a fan-out a Map limit within the room".
func TestHostileCombinatorsOnAFullQueueReportErrQueueFull(t *testing.T) {
	// Cap 1, room for one queued task: of three tasks, one runs, one
	// queues, one is refused.
	mk := func(t *testing.T) (*scheduler.Scheduler, chan struct{}) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		require.NoError(t, err)
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s, make(chan struct{})
	}
	t.Run("AsCompleted", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, gate := mk(t)
		fn := func(ctx context.Context) (int, error) { <-gate; return 1, nil }
		var full, ok int
		for _, r := range factory.AsCompleted(ctx, s, fn, fn, fn) {
			switch {
			case errors.Is(r.Err, scheduler.ErrQueueFull):
				full++
				close(gate) // the refusal ends first
			case r.Err == nil:
				ok++
			default:
				t.Errorf("unexpected error %v", r.Err)
			}
		}
		assert.Equal(t, 1, full)
		assert.Equal(t, 2, ok)
	})
	t.Run("Map within the room", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, _ := mk(t)
		out, err := factory.Map(ctx, s, []int{1, 2, 3, 4, 5}, 1, func(ctx context.Context, v int) (int, error) { return v * 10, nil })
		require.NoError(t, err)
		assert.Equal(t, []int{10, 20, 30, 40, 50}, out)
	})
}

// A combinator's task refused for a full queue was never taken by the
// scheduler (a refused Enqueue): it ends Canceled with ErrQueueFull as its
// cause, fires no hook, and Stats does not count it (neither Created nor
// Rejected), unlike a scheduler.Submit refused the same way. The package
// doc says so.
func TestHostileCombinatorRefusalIsNotASchedulerRejection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var done atomic.Int64
	s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithQueueLimit(1),
		scheduler.WithHooks(scheduler.Hooks{OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) { done.Add(1) }}))
	require.NoError(t, err)
	gate := make(chan struct{})
	fn := func(ctx context.Context) (int, error) { <-gate; return 1, nil }
	for _, r := range factory.AsCompleted(ctx, s, fn, fn, fn) {
		if errors.Is(r.Err, scheduler.ErrQueueFull) {
			close(gate)
		}
	}
	require.NoError(t, s.Shutdown(ctx))
	st := s.Stats()
	assert.EqualValues(t, 2, st.Created, "the refused task was never the scheduler's")
	assert.EqualValues(t, 0, st.Rejected)
	assert.EqualValues(t, 2, done.Load(), "OnDone of the two tasks taken, none of the refused one")

	h, err := factory.Submit(s, fn)
	assert.ErrorIs(t, err, scheduler.ErrClosed)
	assert.Equal(t, lazytask.Canceled, h.State())
	assert.False(t, h.Info().Rejected)
}
