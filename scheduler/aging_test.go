package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestAgingLetsAnOldLowPriorityTaskOvertakeNewerHighOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithAging(time.Second))
		require.NoError(t, err)
		gate := make(chan struct{})
		_, _ = scheduler.Go(s, func(ctx context.Context) error { <-gate; return nil })
		var order []string
		low, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "low"); return nil }, lazytask.WithPriority(0))
		time.Sleep(10 * time.Second) // fake time: low has aged 10 levels
		high, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "high"); return nil }, lazytask.WithPriority(5))
		close(gate)
		require.NoError(t, low.Wait(context.Background()))
		require.NoError(t, high.Wait(context.Background()))
		require.Equal(t, []string{"low", "high"}, order, "run order with aging")
		require.NoError(t, s.Shutdown(context.Background()))
	})
}

func TestWithoutAgingPrioritiesAreStrict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1))
		require.NoError(t, err)
		gate := make(chan struct{})
		_, _ = scheduler.Go(s, func(ctx context.Context) error { <-gate; return nil })
		var order []string
		low, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "low"); return nil }, lazytask.WithPriority(0))
		time.Sleep(10 * time.Second)
		high, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "high"); return nil }, lazytask.WithPriority(5))
		close(gate)
		require.NoError(t, low.Wait(context.Background()))
		require.NoError(t, high.Wait(context.Background()))
		require.Equal(t, []string{"high", "low"}, order, "run order without aging")
		require.NoError(t, s.Shutdown(context.Background()))
	})
}
