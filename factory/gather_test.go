package factory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

func TestGatherReturnsResultsInInputOrderWithErrorsJoined(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(3))
	last := newGate(t)
	e1, e3 := errors.New("first failed"), errors.New("third failed")
	vals, err := factory.Gather(bounded(t), s,
		func(context.Context) (int, error) { <-last.started; return 0, e1 },
		func(context.Context) (int, error) { <-last.started; return 20, nil },
		func(context.Context) (int, error) { return 30, e3 },
		func(context.Context) (int, error) { close(last.started); return 40, nil }, // ends first
	)
	assert.Equal(t, []int{0, 20, 0, 40}, vals, "Gather's values: a failed function's is zero")
	assert.ErrorIs(t, err, e1, "Gather's error")
	assert.ErrorIs(t, err, e3, "Gather's error")
	assert.Equal(t, "first failed\nthird failed", err.Error(), "Gather's error keeps the order of fns")
}

func TestGatherWhenCtxEndsCancelsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancelCause(bounded(t))
	stop := errors.New("enough")
	g := newGate(t)
	go func() { <-g.started; cancel(stop) }()
	vals, err := factory.Gather(ctx, factory.Goroutines{},
		func(context.Context) (int, error) { return 1, nil },
		func(ctx context.Context) (int, error) { return 2, g.waitCtx(ctx) },
	)
	require.Len(t, vals, 2, "Gather's values")
	assert.Equal(t, 1, vals[0], "the finished task's value")
	assert.ErrorIs(t, err, stop, "Gather's error")
}

func TestGatherWithADoneContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	vals, err := factory.Gather(ctx, factory.Goroutines{}, func(context.Context) (int, error) {
		t.Error("a function ran")
		return 0, nil
	})
	assert.ErrorIs(t, err, context.Canceled, "Gather(done ctx)")
	assert.Equal(t, []int{0}, vals, "Gather's values")
}

func TestGatherInsideATaskLendsItsSlot(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	outer, err := scheduler.Submit(s, func(ctx context.Context) ([]int, error) {
		return factory.Gather(ctx, s,
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { return 2, nil },
		)
	})
	require.NoError(t, err, "Submit(outer)")
	vals, err := outer.Await(bounded(t))
	require.NoError(t, err, "outer.Await")
	assert.Equal(t, []int{1, 2}, vals, "outer's value")
}
