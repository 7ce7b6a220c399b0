package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// pond refuses a subpool larger than its parent; here a child scope may
// have the larger cap, and a task weighing more than an ancestor's cap is
// refused at submit, and one queued when an ancestor shrinks below its
// weight ends with ErrWeightTooLarge: never a hang.
func TestPeersWeightAboveAnAncestorsCap(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	child, err := s.Root().NewScope(scheduler.WithLimit(5))
	require.NoError(t, err)
	grand, err := child.NewScope(scheduler.WithLimit(4))
	require.NoError(t, err)
	_, err = scheduler.Go(grand, func(context.Context) error { return nil }, lazytask.WithWeight(3))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "weight 3 under a root of cap 2")

	_, g := hold(t, s, lazytask.WithWeight(2))
	h, err := scheduler.Go(grand, func(context.Context) error { return nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	l := scheduler.NewTask(grand, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, s.Resize(1)) // the root shrinks below the queued task's weight
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Wait(bg) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.open()
		t.Fatalf("a task of weight 2 queued under a root resized to 1: still %v after 5s", h.State())
	}
	assert.ErrorIs(t, h.Err(), scheduler.ErrWeightTooLarge)
	require.ErrorIs(t, grand.Enqueue(l), scheduler.ErrWeightTooLarge, "Enqueue of a lazy task heavier than the root's cap")
	g.open()
	require.NoError(t, s.Wait(bg))
	statsAddUp(t, s.Stats(), "after the resize")
}
