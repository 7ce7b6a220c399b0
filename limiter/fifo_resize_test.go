package limiter_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/limiter"
)

// Waiters are admitted first in, first out (Weighted's doc). A Resize
// that lowers the limit while Acquire calls wait, and fails the one at the
// head (its weight is above the new limit), must not let a later, smaller
// waiter in ahead of an earlier one that still does not fit.
func TestResizeDownKeepsWaitersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWeighted(t, 12)
		require.True(t, w.TryAcquire(9))
		ctx := context.Background()
		big := acquireAsync(ctx, w, 11)
		synctest.Wait()
		first := acquireAsync(ctx, w, 3)
		synctest.Wait()
		second := acquireAsync(ctx, w, 1)
		synctest.Wait()

		require.NoError(t, w.Resize(10)) // 9 in use: 1 free; big fails
		synctest.Wait()
		err, ok := returned(big)
		require.True(t, ok, "Acquire(11) after Resize(10)")
		require.ErrorIs(t, err, limiter.ErrWeightTooLarge)

		_, firstIn := returned(first)
		_, secondIn := returned(second)
		require.False(t, firstIn, "Acquire(3) with 9 in use, limit 10")
		assert.False(t, secondIn, "Acquire(1), queued behind Acquire(3), was admitted ahead of it")

		w.Release(9)
		synctest.Wait()
		err, ok = returned(first)
		require.True(t, ok, "Acquire(3) after everything was released")
		require.NoError(t, err)
		if !secondIn {
			err, ok = returned(second)
			require.True(t, ok, "Acquire(1) after everything was released")
			require.NoError(t, err)
		}
		assert.Equal(t, int64(4), w.InUse())
	})
}
