package scheduler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Submit of a task whose carried context is already canceled answers the
// same way every time: the task is refused, Canceled with the context's
// cause, and it takes no place in a bounded queue. Before, the answer hung
// on a race with the goroutine of the carried context's watch: mostly nil
// with the task Queued (then ErrQueueFull for a live task behind it, the
// dead one holding the only place), sometimes the cause, Rejected.
func TestHostileHPSubmitWithACanceledCarriedContextIsRefusedAlike(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	_, g := hold(t, s)
	defer g.open()
	cause := errors.New("request gone")
	dead, cancel := context.WithCancelCause(bg)
	cancel(cause)
	fn := func(context.Context) (int, error) { return 1, nil }
	for i := range 100 {
		h, err := scheduler.Submit(s, fn, lazytask.WithContext(dead))
		require.ErrorIs(t, err, cause, "try %d: Submit's answer", i)
		require.Equal(t, lazytask.Canceled, h.State(), "try %d", i)
		require.ErrorIs(t, h.Err(), cause, "try %d", i)
		live, err := scheduler.Submit(s, fn)
		require.NoError(t, err, "try %d: a live task behind a dead one", i)
		require.True(t, live.Cancel(nil), "try %d", i)
		<-live.Done()
	}
}
