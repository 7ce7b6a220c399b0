package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A hook sees the handle before the handoff; a hook that cancels it there
// must leave it canceled, never queued or run.
func TestTaskCanceledByItsCreateHookNeverRuns(t *testing.T) {
	s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { h.Cancel(nil) },
	}))
	require.NoError(t, err)
	ran := false
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { ran = true; return 1, nil })
	require.ErrorIs(t, err, scheduler.ErrNotQueued, "Submit of a task its hook canceled")
	require.NoError(t, s.Shutdown(context.Background()))
	require.Equal(t, lazytask.Canceled, h.State(), "State()")
	require.False(t, ran, "the function ran")
	require.Zero(t, s.Stats().Running+s.Stats().Queued, "running+queued")
}
