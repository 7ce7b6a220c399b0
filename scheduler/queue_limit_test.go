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

func TestBoundedQueueReturnsErrQueueFull(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(2))
	_, g := hold(t, s)
	var runs atomic.Int32
	for i := range 2 {
		_, err := scheduler.Submit(s, counted(&runs))
		require.NoError(t, err, "Submit #%d into a queue with room", i)
	}
	h, err := scheduler.Submit(s, counted(&runs))
	if !errors.Is(err, scheduler.ErrQueueFull) {
		t.Errorf("Submit into a full queue = %v; want ErrQueueFull", err)
	}
	assert.Equal(t, lazytask.Canceled, h.State(), "State() of a refused task")
	assert.ErrorIs(t, h.Err(), scheduler.ErrQueueFull, "Err() of a refused task")

	lazy := lazytask.New(counted(&runs))
	if err := s.Enqueue(lazy); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Errorf("Enqueue into a full queue = %v; want ErrQueueFull", err)
	}
	assert.Equal(t, lazytask.Lazy, lazy.State(), "Enqueue on error leaves the task as it was")
	assert.Equal(t, 2, s.Stats().Queued, "Stats().Queued")

	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, int32(2), runs.Load(), "runs (refused tasks never run)")
	require.NoError(t, s.Enqueue(lazy), "Enqueue once there is room")
	_, err = lazy.Await(bg)
	require.NoError(t, err)
}

// fullQueue makes a scheduler with cap 1 and a queue of 1, both taken.
// It returns the holder's gate and the queued task.
func fullQueue(t *testing.T, opts ...scheduler.SchedulerOption) (*scheduler.Scheduler, *gate, *lazytask.Task[int]) {
	t.Helper()
	s := startScheduler(t, append([]scheduler.SchedulerOption{scheduler.WithLimit(1), scheduler.WithQueueLimit(1)}, opts...)...)
	_, g := hold(t, s)
	q, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	return s, g, q
}

type submitted struct {
	h   *lazytask.Task[int]
	err error
}

func TestSubmitWaitWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, queued := fullQueue(t)
		var runs atomic.Int32
		out := make(chan submitted, 1)
		go func() {
			h, err := scheduler.SubmitWait(bg, s, counted(&runs))
			out <- submitted{h, err}
		}()
		synctest.Wait()
		select {
		case r := <-out:
			t.Fatalf("SubmitWait into a full queue returned %v; want it to wait", r.err)
		default:
		}
		require.True(t, queued.Cancel(nil), "Cancel(queued) to make room")
		r := <-out
		require.NoError(t, r.err, "SubmitWait once there is room")
		assert.Equal(t, lazytask.Queued, r.h.State(), "State() of the task SubmitWait queued")
		g.open()
		_, err := r.h.Await(bg)
		require.NoError(t, err)
		assert.Equal(t, int32(1), runs.Load(), "runs")
	})
}

func TestSubmitWaitReturnsTheCauseWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, _ := fullQueue(t)
		var runs atomic.Int32
		cause := errors.New("caller gave up")
		ctx, cancel := context.WithCancelCause(bg)
		out := make(chan submitted, 1)
		go func() {
			h, err := scheduler.SubmitWait(ctx, s, counted(&runs))
			out <- submitted{h, err}
		}()
		synctest.Wait()
		cancel(cause)
		r := <-out
		if r.err != cause {
			t.Errorf("SubmitWait(ctx canceled with cause) = %v; want %v", r.err, cause)
		}
		require.NotNil(t, r.h, "handle from a refused SubmitWait")
		assert.Equal(t, lazytask.Canceled, r.h.State(), "State() of the refused task")
		assert.Equal(t, cause, r.h.Err(), "Err() of the refused task")
		g.open()
		require.NoError(t, s.Wait(bg))
		assert.Zero(t, runs.Load(), "runs of the refused task")
	})
}

func TestSubmitWaitHonoursATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, _ := fullQueue(t)
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		start := time.Now()
		h, err := scheduler.SubmitWait(ctx, s, func(context.Context) (int, error) { return 1, nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SubmitWait(3s) into a full queue = %v; want DeadlineExceeded", err)
		}
		assert.Equal(t, 3*time.Second, time.Since(start), "time SubmitWait waited")
		assert.Equal(t, lazytask.Canceled, h.State(), "State() of the refused task")
		g.open()
	})
}

func TestSubmitWaitWithAnEndedContextDoesNotQueue(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(4))
	ctx, cancel := context.WithCancelCause(bg)
	cause := errors.New("over")
	cancel(cause)
	var runs atomic.Int32
	h, err := scheduler.SubmitWait(ctx, s, counted(&runs))
	if err != cause {
		t.Errorf("SubmitWait(done ctx) with room = %v; want %v (a done context wins)", err, cause)
	}
	assert.True(t, h.State().Terminal(), "State() of the refused task = %v; want terminal", h.State())
	require.NoError(t, s.Wait(bg))
	assert.Zero(t, runs.Load(), "runs")
}

func TestSubmitWaitEndsWithErrClosedWhenShutdownBegins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, g, _ := fullQueue(t)
		out := make(chan submitted, 1)
		go func() {
			h, err := scheduler.SubmitWait(bg, s, func(context.Context) (int, error) { return 1, nil })
			out <- submitted{h, err}
		}()
		synctest.Wait()
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(bg) }()
		r := <-out
		if !errors.Is(r.err, scheduler.ErrClosed) {
			t.Errorf("SubmitWait blocked when Shutdown began = %v; want ErrClosed", r.err)
		}
		assert.Equal(t, lazytask.Canceled, r.h.State(), "State() of the refused task")
		g.open()
		require.NoError(t, <-shut)
	})
}

func TestSubmitWaitWithAnUnboundedQueueIsSubmit(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	for range 100 {
		h, err := scheduler.SubmitWait(bg, s, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, h.State())
	}
	g.open()
}

func TestQueueLimitBelowOneIsErrInvalidLimit(t *testing.T) {
	for _, n := range []int{0, -1} {
		s, err := scheduler.New(scheduler.WithQueueLimit(n))
		if !errors.Is(err, scheduler.ErrInvalidLimit) || s != nil {
			t.Errorf("New(WithQueueLimit(%d)) = %v, %v; want nil, ErrInvalidLimit", n, s, err)
		}
	}
}
