package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestCancelOfAQueuedTaskNeverRunsIt(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var runs atomic.Int32
	h, err := scheduler.Submit(s, counted(&runs))
	require.NoError(t, err)
	other, err := scheduler.Submit(s, counted(&runs))
	require.NoError(t, err)
	require.Equal(t, 2, s.Stats().Queued, "Stats().Queued")

	cause := errors.New("no longer needed")
	if !h.Cancel(cause) {
		t.Errorf("Cancel(cause) of a queued task = false; want true")
	}
	assert.Equal(t, lazytask.Canceled, h.State(), "State()")
	if _, err := h.Await(bg); err != cause {
		t.Errorf("Await(bg) = %v; want %v", err, cause)
	}
	st := s.Stats()
	assert.Equal(t, 1, st.Queued, "Stats().Queued after the cancel")
	assert.Equal(t, uint64(1), st.Canceled, "Stats().Canceled")
	if h.Cancel(nil) {
		t.Errorf("second Cancel = true; want false")
	}
	if err := s.Force(h); !errors.Is(err, scheduler.ErrNotQueued) {
		t.Errorf("Force(canceled task) = %v; want ErrNotQueued", err)
	}

	g.open()
	_, err = other.Await(bg)
	require.NoError(t, err)
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, int32(1), runs.Load(), "runs (only the task not canceled)")
	assert.Equal(t, uint64(1), s.Stats().Canceled, "Stats().Canceled at the end")
}

func TestCancelOfManyQueuedTasksLeavesTheRestInOrder(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var log runLog
	names := []string{"a", "b", "c", "d", "e", "f"}
	hs := map[string]*lazytask.Task[string]{}
	for i, n := range names {
		h, err := scheduler.Submit(s, log.logged(n), lazytask.WithPriority(i%2))
		require.NoError(t, err)
		hs[n] = h
	}
	require.NoError(t, s.Promote(hs["e"]))
	hs["e"].Cancel(nil) // a promoted task
	hs["b"].Cancel(nil) // the head of priority 1
	hs["c"].Cancel(nil) // the middle of priority 0
	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, []string{"d", "f", "a"}, log.get(), "run order after cancels")
	assert.Equal(t, uint64(3), s.Stats().Canceled, "Stats().Canceled")
}

func TestCancelOfARunningScheduledTaskCancelsItsContextWithTheCause(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	started, goAhead := make(chan struct{}), make(chan struct{})
	type seen struct{ err, cause error }
	out := make(chan seen, 1)
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		<-goAhead // read the context after Cancel returned (see lazytask/bugs_test.go)
		out <- seen{ctx.Err(), context.Cause(ctx)}
		return 0, ctx.Err()
	})
	require.NoError(t, err)
	<-started
	cause := errors.New("stop")
	require.True(t, h.Cancel(cause), "Cancel(cause) of a running task")
	close(goAhead)
	sn := <-out
	assert.Equal(t, context.Canceled, sn.err, "ctx.Err() inside fn")
	assert.Equal(t, cause, sn.cause, "context.Cause(ctx) inside fn")
	_, _ = h.Await(bg)
	assert.Equal(t, lazytask.Canceled, h.State(), "State()")
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	assert.Equal(t, uint64(1), st.Canceled, "Stats().Canceled")
	assert.Zero(t, st.InUse, "Stats().InUse")
}

func TestCancelOfALazyTaskNeverEnqueuedLeavesTheSchedulerAlone(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	h := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	require.True(t, h.Cancel(nil))
	if err := s.Enqueue(h); !errors.Is(err, scheduler.ErrNotQueued) {
		t.Errorf("Enqueue(canceled task) = %v; want ErrNotQueued", err)
	}
	assert.Zero(t, s.Stats().Submitted, "Stats().Submitted")
}

// lazytask.Task.Cancel: "Cancel cancels the task with cause
// (context.Canceled if nil) ... A Running task's context is canceled with
// that cause (see context.Cause)". The task context answers the cause
// lookup with the scope's (not canceled) context here; context.Cause then
// falls back to ctx.Err().
func TestCancelWithNilCauseGivesContextCanceledAsTheCause(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	started, goAhead := make(chan struct{}), make(chan struct{})
	causes := make(chan error, 1)
	h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		<-goAhead
		causes <- context.Cause(ctx)
		return 0, ctx.Err()
	})
	require.NoError(t, err)
	<-started
	require.True(t, h.Cancel(nil))
	close(goAhead)
	if got := <-causes; got != context.Canceled {
		t.Errorf("context.Cause(ctx) after Cancel(nil) of a scheduled task = %v; want context.Canceled", got)
	}
	_, _ = h.Await(bg)
}

// lazytask.WithTimeout: "When it passes, the task's context is canceled
// with context.DeadlineExceeded", and the timeout counts from the start,
// also in a scheduler where the task waited in the queue.
func TestTimeoutOfAScheduledTaskCountsFromItsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		_, g := hold(t, s)
		type seen struct {
			ran        time.Duration
			err, cause error
		}
		out := make(chan seen, 1)
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			start := time.Now()
			<-ctx.Done()
			synctest.Wait() // let the timer's goroutine finish
			out <- seen{time.Since(start), ctx.Err(), context.Cause(ctx)}
			return 0, ctx.Err()
		}, lazytask.WithTimeout(time.Second))
		require.NoError(t, err)
		time.Sleep(time.Minute) // fake time: the task waits in the queue
		g.open()
		_, err = h.Await(bg)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of a task that timed out")
		sn := <-out
		assert.Equal(t, time.Second, sn.ran, "time from start to the timeout")
		assert.Equal(t, context.DeadlineExceeded, sn.err, "ctx.Err() after the timeout")
		assert.Equal(t, context.DeadlineExceeded, sn.cause, "context.Cause(ctx) after the timeout")
		assert.Equal(t, time.Minute, h.Timings().QueueTime(), "Timings().QueueTime()")
	})
}
