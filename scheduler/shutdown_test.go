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

func TestSubmitAfterShutdownIsErrClosed(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	require.NoError(t, s.Shutdown(bg), "Shutdown with nothing submitted")
	var runs atomic.Int32
	h, err := scheduler.Submit(s, counted(&runs))
	if !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("Submit after Shutdown = %v; want ErrClosed", err)
	}
	require.NotNil(t, h, "handle of a refused Submit")
	assert.Equal(t, lazytask.Canceled, h.State(), "State() of a task submitted after Shutdown")
	assert.ErrorIs(t, h.Err(), scheduler.ErrClosed, "Err() of a task submitted after Shutdown")

	g, err := scheduler.Go(s, func(context.Context) error { runs.Add(1); return nil })
	assert.ErrorIs(t, err, scheduler.ErrClosed, "Go after Shutdown")
	assert.Equal(t, lazytask.Canceled, g.State(), "State() of a Go task after Shutdown")

	lazy := lazytask.New(counted(&runs))
	assert.ErrorIs(t, s.Enqueue(lazy), scheduler.ErrClosed, "Enqueue after Shutdown")
	assert.ErrorIs(t, s.Force(lazy), scheduler.ErrClosed, "Force(lazy) after Shutdown")
	assert.Equal(t, lazytask.Lazy, lazy.State(), "a refused Lazy task is left as it was")
	assert.Zero(t, runs.Load(), "runs")
	assert.Zero(t, s.Stats().Submitted, "Stats().Submitted")
}

func TestShutdownLetsQueuedTasksFinishWithinTheGracePeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		_, g := hold(t, s)
		var runs atomic.Int32
		queued := make([]*lazytask.Task[int], 3)
		for i := range queued {
			queued[i], _ = scheduler.Submit(s, counted(&runs))
		}
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(bg) }()
		synctest.Wait() // Shutdown is waiting for the work to drain
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v while a task was running; want it to wait", err)
		default:
		}
		_, err := scheduler.Submit(s, counted(&runs))
		assert.ErrorIs(t, err, scheduler.ErrClosed, "Submit while Shutdown drains")

		g.open()
		require.NoError(t, <-shut, "Shutdown when everything finished in time")
		for i, h := range queued {
			assert.Equal(t, lazytask.Succeeded, h.State(), "queued task %d State() after a graceful Shutdown", i)
		}
		assert.Equal(t, int32(3), runs.Load(), "runs")
	})
}

func TestShutdownAfterTheGracePeriodCancelsWhatRemains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		type seen struct{ err, cause error }
		sawCtx := make(chan seen, 1)
		started := make(chan struct{})
		running, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			sawCtx <- seen{ctx.Err(), context.Cause(ctx)}
			return 0, ctx.Err()
		})
		require.NoError(t, err)
		<-started
		var runs atomic.Int32
		queued := make([]*lazytask.Task[int], 3)
		for i := range queued {
			queued[i], _ = scheduler.Submit(s, counted(&runs))
		}
		grace, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		start := time.Now()
		err = s.Shutdown(grace)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown(10s grace) with a task that waits for its ctx = %v; want DeadlineExceeded", err)
		}
		assert.Equal(t, 10*time.Second, time.Since(start), "Shutdown's grace period")

		sc := <-sawCtx
		assert.Equal(t, context.Canceled, sc.err, "running task's ctx.Err()")
		assert.Equal(t, scheduler.ErrClosed, sc.cause, "running task's context.Cause(ctx)")
		assert.Equal(t, lazytask.Canceled, running.State(), "running task's State()")
		for i, h := range queued {
			assert.Equal(t, lazytask.Canceled, h.State(), "queued task %d State()", i)
			assert.ErrorIs(t, h.Err(), scheduler.ErrClosed, "queued task %d Err()", i)
		}
		assert.Zero(t, runs.Load(), "runs of tasks canceled in the queue")
		st := s.Stats()
		assert.Zero(t, st.InUse, "Stats().InUse after Shutdown")
		assert.Zero(t, st.Running, "Stats().Running after Shutdown")
		assert.Zero(t, st.Queued, "Stats().Queued after Shutdown")
		assert.Equal(t, uint64(4), st.Canceled, "Stats().Canceled")
	})
}

func TestSecondShutdownReturnsErrClosed(t *testing.T) {
	s := startScheduler(t)
	require.NoError(t, s.Shutdown(bg), "first Shutdown")
	if err := s.Shutdown(bg); !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("second Shutdown = %v; want ErrClosed", err)
	}
}

func TestSecondShutdownCancelsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		started := make(chan struct{})
		running, _ := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		<-started
		var runs atomic.Int32
		queued, _ := scheduler.Submit(s, counted(&runs))
		first := make(chan error, 1)
		go func() { first <- s.Shutdown(bg) }() // waits for ever: no grace limit
		synctest.Wait()
		if err := s.Shutdown(bg); !errors.Is(err, scheduler.ErrClosed) {
			t.Errorf("second Shutdown = %v; want ErrClosed", err)
		}
		assert.Equal(t, lazytask.Canceled, running.State(), "running task's State() after the second Shutdown")
		assert.Equal(t, lazytask.Canceled, queued.State(), "queued task's State() after the second Shutdown")
		<-first
		assert.Zero(t, runs.Load(), "runs")
	})
}

func TestShutdownWaitsForATaskThatIgnoresItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		g := newGate(t)
		h, _ := scheduler.Submit(s, g.fn)
		<-g.started
		grace, cancel := context.WithCancel(bg)
		cancel()
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(grace) }()
		synctest.Wait()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v while a task still ran; want it to wait", err)
		default:
		}
		g.open()
		assert.ErrorIs(t, <-shut, context.Canceled, "Shutdown(canceled grace)")
		assert.Equal(t, lazytask.Succeeded, h.State(), "a task that finished after the cancel reports its true outcome")
	})
}
