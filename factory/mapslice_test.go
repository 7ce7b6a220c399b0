package factory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

func TestMapKeepsInputOrderAndJoinsErrors(t *testing.T) {
	in := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	out, err := factory.Map(bounded(t), factory.Goroutines{}, in, 3, func(_ context.Context, v int) (string, error) {
		if v%4 == 0 {
			return "", fmt.Errorf("%d is a multiple of 4", v)
		}
		return fmt.Sprint(v * v), nil
	})
	assert.Equal(t, []string{"1", "4", "9", "", "25", "36", "49", "", "81", "100"}, out, "Map's values")
	assert.EqualError(t, err, "4 is a multiple of 4\n8 is a multiple of 4", "Map's error")
}

// Map runs limit calls at once, never more: the first limit calls meet at a
// barrier (which they could not with fewer at once), and a counter checks
// the maximum.
func TestMapRunsExactlyLimitCallsAtOnce(t *testing.T) {
	const limit = 3
	var running, peak, calls atomic.Int32
	var barrier sync.WaitGroup
	barrier.Add(limit)
	in := make([]int, 20)
	_, err := factory.Map(bounded(t), factory.Goroutines{}, in, limit, func(ctx context.Context, _ int) (int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if calls.Add(1) <= limit {
			barrier.Done()
			barrier.Wait()
		}
		return 0, nil
	})
	require.NoError(t, err, "Map")
	assert.Equal(t, int32(limit), peak.Load(), "the most calls running at once")
}

func TestMapRejectsALimitBelowOne(t *testing.T) {
	_, err := factory.Map(bg, factory.Goroutines{}, []int{1}, 0, func(context.Context, int) (int, error) { return 0, nil })
	assert.ErrorIs(t, err, scheduler.ErrInvalidLimit, "Map(limit 0)")
}

func TestMapWhenCtxEndsStopsSubmittingAndCancelsTheCallsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancelCause(bounded(t))
	stop := errors.New("stop mapping")
	var calls atomic.Int32
	in := []int{0, 1, 2, 3, 4, 5}
	out, err := factory.Map(ctx, factory.Goroutines{}, in, 2, func(ctx context.Context, v int) (int, error) {
		calls.Add(1)
		if v == 0 {
			return 100, nil
		}
		cancel(stop) // the second call stops the map, and waits for it
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	assert.ErrorIs(t, err, stop, "Map's error")
	assert.Equal(t, 100, out[0], "the value of the call that finished")
	assert.LessOrEqual(t, calls.Load(), int32(3), "calls made: the map stopped submitting")
	assert.Equal(t, len(in), len(out), "len(out)")
}

func TestMapInsideATaskLendsItsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	outer, err := scheduler.Submit(s, func(ctx context.Context) ([]int, error) {
		return factory.Map(ctx, s, []int{1, 2, 3}, 2, func(_ context.Context, v int) (int, error) { return -v, nil })
	})
	require.NoError(t, err, "Submit(outer)")
	out, err := outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, []int{-1, -2, -3}, out, "outer's value")
}
