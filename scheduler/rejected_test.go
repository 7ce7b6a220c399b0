package scheduler_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// TestInfoRejectedTellsARefusalFromAnEnd checks that Info.Rejected is set
// on exactly the tasks that Stats counts as Rejected, that OnDone sees it,
// and that a task canceled or failed once taken is not marked.
func TestInfoRejectedTellsARefusalFromAnEnd(t *testing.T) {
	var mu sync.Mutex
	seen := map[lazytask.Handle]bool{} // OnDone's view of Rejected
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithQueueLimit(1),
		scheduler.WithHooks(scheduler.Hooks{OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			mu.Lock()
			seen[h] = h.Info().Rejected
			mu.Unlock()
		}}))
	_, g := hold(t, s, lazytask.WithWeight(2))
	one := func(context.Context) (int, error) { return 1, nil }

	queued, err := scheduler.Submit(s, one)
	require.NoError(t, err, "Submit into a queue with room")
	full, err := scheduler.Submit(s, one)
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	heavy, err := scheduler.Submit(s, one, lazytask.WithWeight(3))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	nilFn, err := scheduler.Submit[int](s, nil)
	require.ErrorIs(t, err, lazytask.ErrNilFunc)
	noScope, err := scheduler.Submit[int](nil, one)
	require.ErrorIs(t, err, scheduler.ErrNilScope)

	lazy := scheduler.NewTask(s, one)
	assert.True(t, lazy.Cancel(nil), "Cancel of a Lazy task")
	assert.True(t, queued.Cancel(nil), "Cancel of a queued task")

	failing, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, assert.AnError }, lazytask.WithPriority(1))
	require.NoError(t, err)
	g.open()
	_, err = failing.Await(bg)
	require.ErrorIs(t, err, assert.AnError)
	require.NoError(t, s.Wait(bg))

	require.NoError(t, s.Shutdown(bg))
	closed, err := scheduler.Submit(s, one)
	require.ErrorIs(t, err, scheduler.ErrClosed)
	closedLazy := scheduler.NewTask(s, one)
	assert.ErrorIs(t, closedLazy.Err(), scheduler.ErrClosed, "NewTask after Shutdown")

	rejected := map[string]*lazytask.Task[int]{"full": full, "heavy": heavy, "nil func": nilFn, "nil scope": noScope, "closed": closed, "closed NewTask": closedLazy}
	taken := map[string]*lazytask.Task[int]{"canceled Lazy": lazy, "canceled queued": queued, "failed": failing}
	for name, h := range rejected {
		assert.True(t, h.Info().Rejected, "Info().Rejected of the %s task", name)
		assert.True(t, h.State() == lazytask.Canceled || h.State() == lazytask.Failed, "State of the %s task: %v", name, h.State())
	}
	for name, h := range taken {
		assert.False(t, h.Info().Rejected, "Info().Rejected of the %s task", name)
	}
	mu.Lock()
	defer mu.Unlock()
	for name, h := range rejected {
		if v, ok := seen[h]; ok {
			assert.True(t, v, "OnDone saw Rejected of the %s task", name)
		}
	}
	for _, name := range []string{"full", "heavy", "closed", "closed NewTask"} {
		assert.Contains(t, seen, lazytask.Handle(rejected[name]), "OnDone fired for the %s task", name)
	}
	for name, h := range taken {
		assert.False(t, seen[h], "OnDone saw Rejected of the %s task", name)
	}
	// nil func and nil scope are refused before any scope can count them
	// (nil scope) or fire hooks; Stats counts the four refusals made in s
	// and the one of bad input.
	assert.Equal(t, uint64(5), s.Stats().Rejected, "Stats().Rejected")
}
