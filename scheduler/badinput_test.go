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

func TestNewRejectsALimitBelowOne(t *testing.T) {
	for _, n := range []int{0, -1} {
		s, err := scheduler.New(scheduler.WithLimit(n))
		if !errors.Is(err, scheduler.ErrInvalidLimit) || s != nil {
			t.Errorf("New(WithLimit(%d)) = %v, %v; want nil, ErrInvalidLimit", n, s, err)
		}
	}
}

func TestNewDefaultsToGOMAXPROCS(t *testing.T) {
	s := startScheduler(t)
	assert.Positive(t, s.Stats().Limit, "Stats().Limit of a default scheduler")
	assert.False(t, s.Stats().Unlimited, "Stats().Unlimited of a default scheduler")
}

func TestSubmitRejectsAWeightAboveTheCap(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	var runs atomic.Int32
	h, err := scheduler.Submit(s, counted(&runs), lazytask.WithWeight(3))
	if !errors.Is(err, scheduler.ErrWeightTooLarge) {
		t.Errorf("Submit(weight 3, cap 2) = %v; want ErrWeightTooLarge", err)
	}
	assert.Equal(t, lazytask.Failed, h.State(), "State() of a task too heavy for the cap")
	assert.ErrorIs(t, h.Err(), scheduler.ErrWeightTooLarge, "Err()")

	lazy := lazytask.New(counted(&runs), lazytask.WithWeight(3))
	if err := s.Enqueue(lazy); !errors.Is(err, scheduler.ErrWeightTooLarge) {
		t.Errorf("Enqueue(weight 3, cap 2) = %v; want ErrWeightTooLarge", err)
	}
	assert.Equal(t, lazytask.Lazy, lazy.State(), "Enqueue on error leaves the task Lazy")

	ok, err := scheduler.Submit(s, counted(&runs), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(weight == cap)")
	_, err = ok.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, int32(1), runs.Load(), "runs")
}

func TestSubmitRejectsANilFunction(t *testing.T) {
	s := startScheduler(t)
	h, err := scheduler.Submit[int](s, nil)
	if !errors.Is(err, scheduler.ErrNilFunc) {
		t.Errorf("Submit(nil) = %v; want ErrNilFunc", err)
	}
	require.NotNil(t, h)
	assert.Equal(t, lazytask.Failed, h.State(), "State()")
	g, err := scheduler.Go(s, nil)
	assert.ErrorIs(t, err, scheduler.ErrNilFunc, "Go(nil)")
	assert.Equal(t, lazytask.Failed, g.State(), "State() of Go(nil)")
	sw, err := scheduler.SubmitWait[int](bg, s, nil)
	assert.ErrorIs(t, err, scheduler.ErrNilFunc, "SubmitWait(nil)")
	assert.Equal(t, lazytask.Failed, sw.State(), "State() of SubmitWait(nil)")
	assert.Zero(t, s.Stats().Submitted, "Stats().Submitted")
}

func TestSubmitWithAnInvalidOptionFails(t *testing.T) {
	s := startScheduler(t)
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(0))
	assert.ErrorIs(t, err, lazytask.ErrInvalidOption, "Submit(WithWeight(0))")
	assert.Equal(t, lazytask.Failed, h.State(), "State()")
}

func TestEnqueueOfAHandleThatIsNotLazyIsErrNotQueued(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	running, g := hold(t, s)
	queued, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	done := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, done.Start())
	_, _ = done.Await(bg)
	for _, tc := range []struct {
		name string
		h    lazytask.Handle
	}{
		{"running", running},
		{"queued", queued},
		{"succeeded", done},
		{"failed at creation", lazytask.New[int](nil)},
	} {
		if err := s.Enqueue(tc.h); !errors.Is(err, scheduler.ErrNotQueued) {
			t.Errorf("Enqueue(%s task) = %v; want ErrNotQueued", tc.name, err)
		}
	}
	if err := s.Enqueue(nil); !errors.Is(err, scheduler.ErrForeignHandle) {
		t.Errorf("Enqueue(nil) = %v; want ErrForeignHandle", err)
	}
	assert.Equal(t, 1, s.Stats().Queued, "Stats().Queued (the queued task once)")
	g.open()
}
