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

// ScopeSnapshot.Tasks documents queued tasks "in admission order". With
// aging, the old low-priority task is admitted before the newer high one
// (TestAgingLetsAnOldLowPriorityTaskOvertakeNewerHighOnes), so the
// snapshot must list it first.
func TestSnapshotQueueOrderWithAgingIsAdmissionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithAging(time.Second))
		require.NoError(t, err)
		gate := make(chan struct{})
		_, _ = scheduler.Go(s, func(ctx context.Context) error { <-gate; return nil })
		var order []string
		low, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "low"); return nil }, lazytask.WithPriority(0), lazytask.WithName("low"))
		time.Sleep(10 * time.Second)
		high, _ := scheduler.Go(s, func(ctx context.Context) error { order = append(order, "high"); return nil }, lazytask.WithPriority(5), lazytask.WithName("high"))
		snap := s.Snapshot()
		var queued []string
		for _, ts := range snap.Tasks {
			if ts.State == lazytask.Queued {
				queued = append(queued, ts.Name)
			}
		}
		close(gate)
		require.NoError(t, low.Wait(context.Background()))
		require.NoError(t, high.Wait(context.Background()))
		require.NoError(t, s.Shutdown(context.Background()))
		require.Equal(t, []string{"low", "high"}, order, "run order with aging")
		require.Equal(t, order, queued, "snapshot queue order vs the order the tasks were admitted in")
	})
}
