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

// I11: a done callback may shut its scheduler down: Shutdown does not wait
// for the goroutine that runs the callback, and every other task ran.
func TestDoneCallbackThatShutsTheSchedulerDownReturns(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	first, gate := scHold(t, s)
	second, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	shut := make(chan error, 1)
	first.OnDone(func(int, error) { shut <- s.Shutdown(context.Background()) })
	gate.open()
	select {
	case err := <-shut:
		require.NoError(t, err, "Shutdown from a done callback")
	case <-time.After(10 * time.Second): // a hang guard, not synchronisation
		t.Fatal("Shutdown from a done callback did not return")
	}
	v, err := second.Await(context.Background())
	require.NoError(t, err, "the task queued behind the first")
	assert.Equal(t, 2, v)
	assert.Equal(t, lazytask.Succeeded, second.State())
}
