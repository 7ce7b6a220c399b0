package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// conc's WithContext / pond's NewGroupContext: a task carrying a caller's
// context that ends while the task is queued ends Canceled at once, never
// runs, and gives its queue place back (a bounded queue takes another), and
// a lazy one ends too; the counters add up.
func TestPeersCarriedContextEndsQueuedAndLazyTasksAtOnce(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(3))
	_, g := hold(t, s)
	req, cancel := context.WithCancelCause(bg)
	errGone := errors.New("client gone")
	var ran atomic.Int32
	fn := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	var hs []*lazytask.Task[int]
	for range 3 {
		h, err := scheduler.Submit(s, fn, lazytask.WithContext(req))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	_, err := scheduler.Submit(s, fn)
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	lz := scheduler.NewTask(s, fn, lazytask.WithContext(req))
	unbound := lazytask.New(fn, lazytask.WithContext(req))
	cancel(errGone)
	for i, h := range append(hs, lz) {
		select {
		case <-h.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("task %d is %v 5s after its carried context ended", i, h.State())
		}
		assert.Equal(t, lazytask.Canceled, h.State(), "task %d", i)
		assert.ErrorIs(t, h.Err(), errGone, "task %d's error carries the cause", i)
	}
	<-unbound.Done()
	st := s.Stats()
	assert.Equal(t, 0, st.Queued, "Queued once the carried context ended")
	assert.Equal(t, 0, st.Lazy, "Lazy once the carried context ended")
	statsAddUp(t, st, "carried context ended")
	require.ErrorIs(t, s.Enqueue(unbound), scheduler.ErrNotQueued, "Enqueue of a task its context ended")
	for range 3 {
		_, err := scheduler.Submit(s, fn)
		require.NoError(t, err, "the queue places were given back")
	}
	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, int32(3), ran.Load(), "only the three later tasks ran")
	statsAddUp(t, s.Stats(), "idle")
}
