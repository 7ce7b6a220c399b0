package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task made by lazytask.New and handed to a scheduler that keeps
// timings (WithTimings, hooks with Timings, a clock) by a force-run keeps
// them from that handoff on, as one handed over with Enqueue does (see
// WithTimings: "when it is made or handed over").
func TestForceRunOfALazytaskNewTaskKeepsTimings(t *testing.T) {
	for name, opt := range map[string]scheduler.SchedulerOption{
		"WithTimings":   scheduler.WithTimings(),
		"Hooks.Timings": scheduler.WithHooks(scheduler.Hooks{Timings: true, OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) {}}),
	} {
		t.Run(name, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(1), opt)
			enq := lazytask.New(func(context.Context) (int, error) { return 1, nil })
			require.NoError(t, s.Enqueue(enq))
			_, err := enq.Await(bounded(t))
			require.NoError(t, err)
			forced := lazytask.New(func(context.Context) (int, error) { return 1, nil })
			require.NoError(t, s.Force(forced))
			_, err = forced.Await(bounded(t))
			require.NoError(t, err)
			require.NoError(t, s.Shutdown(bounded(t)))
			assert.False(t, enq.Timings().Started.IsZero(), "Enqueue'd: started time kept")
			tm := forced.Timings()
			assert.False(t, tm.Started.IsZero(), "force-run: started time kept (%+v)", tm)
			assert.False(t, tm.Finished.IsZero(), "force-run: finished time kept (%+v)", tm)
		})
	}
}
