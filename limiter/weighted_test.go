package limiter_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

func newWeighted(t *testing.T, limit int64) *limiter.Weighted {
	t.Helper()
	w, err := limiter.NewWeighted(limit)
	require.NoError(t, err)
	return w
}

// acquireAsync starts Acquire(ctx, n) in a goroutine and returns the channel
// its result arrives on.
func acquireAsync(ctx context.Context, w *limiter.Weighted, n int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- w.Acquire(ctx, n) }()
	return done
}

// returned reports whether the Acquire behind done has returned, and with
// what. Call it after synctest.Wait.
func returned(done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

func TestNewWeightedRejectsLimitBelowOne(t *testing.T) {
	for _, limit := range []int64{0, -1} {
		w, err := limiter.NewWeighted(limit)
		if !errors.Is(err, limiter.ErrInvalidLimit) || w != nil {
			t.Errorf("NewWeighted(%d) = %v, %v; want nil, ErrInvalidLimit", limit, w, err)
		}
	}
}

func TestWeightedRejectsWeightBelowOne(t *testing.T) {
	w := newWeighted(t, 2)
	for _, n := range []int64{0, -1} {
		if err := w.Acquire(context.Background(), n); !errors.Is(err, limiter.ErrInvalidWeight) {
			t.Errorf("Acquire(ctx, %d) = %v; want ErrInvalidWeight", n, err)
		}
		if w.TryAcquire(n) {
			t.Errorf("TryAcquire(%d) = true; want false", n)
		}
	}
	assert.Equal(t, int64(0), w.InUse())
}

func TestWeightedResizeRejectsLimitBelowOne(t *testing.T) {
	w := newWeighted(t, 2)
	for _, limit := range []int64{0, -1} {
		if err := w.Resize(limit); !errors.Is(err, limiter.ErrInvalidLimit) {
			t.Errorf("Resize(%d) = %v; want ErrInvalidLimit", limit, err)
		}
	}
	assert.Equal(t, int64(2), w.Limit())
}

func TestWeightedDoesntBlockIfTooBig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 2)
		require.NoError(t, w.Acquire(context.Background(), 1))
		// With no deadline, a hang here would deadlock the bubble.
		if err := w.Acquire(context.Background(), 3); !errors.Is(err, limiter.ErrWeightTooLarge) {
			t.Errorf("Acquire(ctx, 3) = %v; want ErrWeightTooLarge", err)
		}
		assert.False(t, w.TryAcquire(3), "TryAcquire(3)")
		assert.Equal(t, int64(1), w.InUse())
	})
}

func TestWeightedDoneContextWinsOverFreeSlot(t *testing.T) {
	w := newWeighted(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire(done ctx, 1) = %v; want context.Canceled", err)
	}
	assert.Equal(t, int64(0), w.InUse())
	assert.True(t, w.TryAcquire(2), "TryAcquire(2) after failed Acquire")
}

func TestWeightedAcquireCancelledWhileWaitingLeavesLimiterUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 2)
		require.True(t, w.TryAcquire(1))
		ctx, cancel := context.WithCancel(context.Background())
		big := acquireAsync(ctx, w, 2)
		synctest.Wait()
		small := acquireAsync(context.Background(), w, 1) // queued behind big
		synctest.Wait()
		_, ok := returned(small)
		require.False(t, ok, "Acquire(ctx, 1) returned while queued behind Acquire(ctx, 2)")

		cancel()
		synctest.Wait()
		err, ok := returned(big)
		require.True(t, ok, "Acquire(ctx, 2) still blocked after cancel")
		assert.ErrorIs(t, err, context.Canceled)
		err, ok = returned(small)
		require.True(t, ok, "Acquire(ctx, 1) still blocked after the waiter ahead left")
		assert.NoError(t, err)
		assert.Equal(t, int64(2), w.InUse())
	})
}

func TestWeightedTryAcquireDoesntJumpTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 3)
		require.True(t, w.TryAcquire(2))
		big := acquireAsync(context.Background(), w, 2)
		synctest.Wait()
		assert.False(t, w.TryAcquire(1), "TryAcquire(1) with Acquire(ctx, 2) waiting")
		w.Release(2)
		synctest.Wait()
		err, ok := returned(big)
		require.True(t, ok, "Acquire(ctx, 2) still blocked after Release(2)")
		assert.NoError(t, err)
		assert.True(t, w.TryAcquire(1))
		assert.Equal(t, int64(3), w.InUse())
	})
}

func TestWeightedReleasePanicsIfReleasingMoreThanHeld(t *testing.T) {
	w := newWeighted(t, 2)
	require.True(t, w.TryAcquire(1))
	assert.Panics(t, func() { w.Release(2) }, "Release(2) with 1 held")
	assert.Panics(t, func() { w.Release(-1) }, "Release(-1)")
	assert.Equal(t, int64(1), w.InUse())
}

func TestWeightedResizeUpAdmitsBlockedWaiterAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 2)
		require.True(t, w.TryAcquire(2))
		done := acquireAsync(context.Background(), w, 1)
		synctest.Wait()
		_, ok := returned(done)
		require.False(t, ok, "Acquire(ctx, 1) returned with 2 of 2 in use")

		require.NoError(t, w.Resize(3))
		synctest.Wait()
		err, ok := returned(done)
		require.True(t, ok, "Acquire(ctx, 1) still blocked after Resize(3)")
		assert.NoError(t, err)
		assert.Equal(t, int64(3), w.InUse())
	})
}

// TestWeightedResizeUpCancelsDebtFirst lowers the limit below the slots in
// use, then raises it again before any are released.
func TestWeightedResizeUpCancelsDebtFirst(t *testing.T) {
	w := newWeighted(t, 4)
	require.True(t, w.TryAcquire(4))
	require.NoError(t, w.Resize(1))
	require.NoError(t, w.Resize(5))
	assert.True(t, w.TryAcquire(1), "TryAcquire(1) with 4 in use, limit 5")
	assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 5 in use, limit 5")
	w.Release(5)
	assert.True(t, w.TryAcquire(5), "TryAcquire(5) with none in use, limit 5")
}

func TestWeightedResizeDownLetsHoldersFinishAndBlocksNewAcquirers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 4)
		require.True(t, w.TryAcquire(4))
		require.NoError(t, w.Resize(2))
		assert.Equal(t, int64(4), w.InUse(), "InUse() after Resize(2)")
		assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 4 in use, limit 2")

		done := acquireAsync(context.Background(), w, 1)
		for inUse := int64(4); inUse > 2; inUse-- {
			w.Release(1)
			synctest.Wait()
			if _, ok := returned(done); ok {
				t.Fatalf("Acquire(ctx, 1) returned with %d in use, limit 2", inUse-1)
			}
		}
		w.Release(1)
		synctest.Wait()
		err, ok := returned(done)
		require.True(t, ok, "Acquire(ctx, 1) still blocked with 1 in use, limit 2")
		assert.NoError(t, err)
		assert.Equal(t, int64(2), w.InUse())
	})
}

func TestWeightedResizeDownFailsWaitersAboveNewLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 4)
		require.True(t, w.TryAcquire(4))
		big := acquireAsync(context.Background(), w, 3)
		synctest.Wait()
		small := acquireAsync(context.Background(), w, 1) // queued behind big
		synctest.Wait()

		require.NoError(t, w.Resize(2))
		synctest.Wait()
		err, ok := returned(big)
		require.True(t, ok, "Acquire(ctx, 3) still blocked after Resize(2)")
		assert.ErrorIs(t, err, limiter.ErrWeightTooLarge)
		_, ok = returned(small)
		require.False(t, ok, "Acquire(ctx, 1) returned with 4 in use, limit 2")

		w.Release(3)
		synctest.Wait()
		err, ok = returned(small)
		require.True(t, ok, "Acquire(ctx, 1) still blocked with 1 in use, limit 2")
		assert.NoError(t, err)
		assert.Equal(t, int64(2), w.InUse())
	})
}

// TestWeightedResizeDownWithWaitersKeepsLimit lowers the limit while a waiter
// sits in the queue, so that Resize cannot take the free slots back at once;
// later acquirers must still respect the new limit.
func TestWeightedResizeDownWithWaitersKeepsLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 10)
		require.True(t, w.TryAcquire(3))
		big := acquireAsync(context.Background(), w, 8)
		synctest.Wait()
		require.NoError(t, w.Resize(5))
		synctest.Wait()
		err, ok := returned(big)
		require.True(t, ok, "Acquire(ctx, 8) still blocked after Resize(5)")
		assert.ErrorIs(t, err, limiter.ErrWeightTooLarge)

		assert.True(t, w.TryAcquire(2), "TryAcquire(2) with 3 in use, limit 5")
		assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 5 in use, limit 5")
		done := acquireAsync(context.Background(), w, 1)
		synctest.Wait()
		_, ok = returned(done)
		require.False(t, ok, "Acquire(ctx, 1) returned with 5 in use, limit 5")

		w.Release(1)
		synctest.Wait()
		err, ok = returned(done)
		require.True(t, ok, "Acquire(ctx, 1) still blocked with 4 in use, limit 5")
		assert.NoError(t, err)
		assert.Equal(t, int64(5), w.InUse())
		assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 5 in use, limit 5")

		w.Release(5)
		assert.True(t, w.TryAcquire(5), "TryAcquire(5) with none in use, limit 5")
	})
}

func TestWeightedResizeDownTakesFreeSlotsAtOnce(t *testing.T) {
	w := newWeighted(t, 10)
	require.True(t, w.TryAcquire(3))
	require.NoError(t, w.Resize(5))
	assert.True(t, w.TryAcquire(2), "TryAcquire(2) with 3 in use, limit 5")
	assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 5 in use, limit 5")
	w.Release(5)
	assert.True(t, w.TryAcquire(5), "TryAcquire(5) with none in use, limit 5")
	assert.False(t, w.TryAcquire(1), "TryAcquire(1) with 5 in use, limit 5")
	require.NoError(t, w.Resize(10))
	assert.True(t, w.TryAcquire(5), "TryAcquire(5) with 5 in use, limit 10")
	assert.Equal(t, int64(10), w.InUse())
}
