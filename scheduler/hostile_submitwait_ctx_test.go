package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// SubmitWait from inside a task lends the task's slot while it waits
// for room (cf8ccbc). At cap 1 with a full queue the lend admits the queued
// task Q, which makes the room at once; SubmitWait then takes its slot back
// "ahead of the queue", which means waiting until Q ends, whatever its own
// ctx says. Its ctx (100 ms here) must still bound the call: before cf8ccbc
// it returned context.DeadlineExceeded at 100 ms; now it returns only when
// Q ends (never here, until the test lets Q go), and if Q waits for
// something the caller does after SubmitWait, the two deadlock.
func TestSubmitWaitFromInsideHonoursItsContextAfterLending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		started := make(chan struct{})
		rel := make(chan struct{})
		qGate := make(chan struct{})
		returned := make(chan error, 1)
		outer, err := scheduler.Go(s, func(ctx context.Context) error {
			close(started)
			<-rel
			wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := scheduler.SubmitWait(wctx, s, func(ctx context.Context) (int, error) { return 1, nil })
			returned <- err
			return nil
		})
		require.NoError(t, err)
		<-started
		// Q fills the queue; it waits for something that comes later
		// (the test's gate here; in a program, what the outer task does
		// after its SubmitWait).
		_, err = scheduler.Go(s, func(ctx context.Context) error { <-qGate; return nil })
		require.NoError(t, err)
		close(rel)
		select {
		case err := <-returned:
			if err != nil {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "SubmitWait's error")
			}
		case <-time.After(10 * time.Second): // fake time: the bubble is idle
			assert.Fail(t, "SubmitWait with a 100 ms context still blocked after 10 s", "%+v", s.Stats())
		}
		close(qGate)
		require.NoError(t, outer.Wait(bg))
		require.NoError(t, s.Shutdown(bg))
		st := s.Stats()
		assert.Zero(t, st.OverCap+st.OverCapSlots+st.InUse+st.Running+st.Queued, "%+v", st)
		assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "%+v", st)
	})
}

// The deadlock form: the queued task Q waits for what the outer task
// does after its SubmitWait. Before cf8ccbc the SubmitWait timed out at
// 100 ms and both went on; since, the outer task waits for Q's slot, Q for
// the outer task, for ever.
func TestSubmitWaitFromInsideDoesNotDeadlockWithTheTaskItLetIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		started := make(chan struct{})
		rel := make(chan struct{})
		after := make(chan struct{}) // closed by the outer task after its SubmitWait
		outer, err := scheduler.Go(s, func(ctx context.Context) error {
			close(started)
			<-rel
			wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, _ = scheduler.SubmitWait(wctx, s, func(ctx context.Context) (int, error) { return 1, nil })
			close(after)
			return nil
		})
		require.NoError(t, err)
		<-started
		q, err := scheduler.Go(s, func(ctx context.Context) error {
			select {
			case <-after:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		require.NoError(t, err)
		close(rel)
		wctx, cancel := context.WithTimeout(bg, 10*time.Second) // fake time
		defer cancel()
		assert.NoError(t, outer.Wait(wctx), "the outer task: %+v", s.Stats())
		assert.NoError(t, q.Wait(wctx), "Q: %+v", s.Stats())
		s.Root().Cancel(nil) // lets a deadlocked pair go, for the cleanup
	})
}
