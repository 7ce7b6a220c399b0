package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// A scope with a shared limit of its own, inside a scheduler whose root has
// one: either a task of the scope takes a permit of both, as it takes a
// slot at every cap on its path, so that the root's shared cap holds, or
// the inner limit is refused. Before the fix the inner limit replaced the
// outer one: 5 tasks ran at once under a root's shared cap of 1.
func TestSharedLimitsNestLikeCapsOrAreRefused(t *testing.T) {
	fleet, err := limiter.NewLocal(1)
	require.NoError(t, err)
	partner, err := limiter.NewLocal(5)
	require.NoError(t, err)
	s := startScheduler(t, scheduler.WithLimit(8), scheduler.WithSharedLimit(fleet))
	sc, err := s.Root().NewScope(scheduler.WithSharedLimit(partner))
	if err != nil {
		require.ErrorIs(t, err, scheduler.ErrInvalidOption)
		// deeper too
		mid, err := s.Root().NewScope()
		require.NoError(t, err)
		_, err = mid.NewScope(scheduler.WithSharedLimit(partner))
		require.ErrorIs(t, err, scheduler.ErrInvalidOption)
		return
	}
	var running, peak atomic.Int32
	for range 6 {
		_, err := scheduler.Go(sc, func(ctx context.Context) error {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
			return nil
		})
		require.NoError(t, err)
	}
	require.NoError(t, s.Wait(bg))
	assert.LessOrEqual(t, peak.Load(), int32(1), "the root's shared cap of 1 was exceeded")
}
