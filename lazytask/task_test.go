package lazytask_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func TestNewNeverRunsTheFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			runs.Add(1)
			return 1, nil
		})
		synctest.Wait() // any goroutine New might have started has run
		if got := runs.Load(); got != 0 {
			t.Errorf("runs after New = %d; want 0", got)
		}
		if got := tk.State(); got != lazytask.Lazy {
			t.Errorf("State() = %v; want %v", got, lazytask.Lazy)
		}
		v, err := tk.Result()
		if v != 0 || !errors.Is(err, lazytask.ErrNotDone) {
			t.Errorf("Result() = %v, %v; want 0, ErrNotDone", v, err)
		}
		if err := tk.Err(); !errors.Is(err, lazytask.ErrNotDone) {
			t.Errorf("Err() = %v; want ErrNotDone", err)
		}
		assert.False(t, isClosed(tk.Done()), "Done() closed for a Lazy task")
	})
}

func TestStartRunsTheFunctionOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		tk := lazytask.New(func(ctx context.Context) (string, error) {
			runs.Add(1)
			return "ok", nil
		})
		require.NoError(t, tk.Start(), "first Start()")
		v, err := tk.Await(bg)
		if v != "ok" || err != nil {
			t.Errorf("Await(bg) = %q, %v; want \"ok\", nil", v, err)
		}
		if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Errorf("second Start() = %v; want ErrStarted", err)
		}
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Errorf("runs = %d; want 1", got)
		}
	})
}

func TestStartFromManyGoroutinesRunsOnce(t *testing.T) {
	var runs atomic.Int32
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		return int(runs.Add(1)), nil
	})
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 16 {
		wg.Go(func() {
			if tk.Start() == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	_, err := tk.Await(bg)
	require.NoError(t, err)
	if got := ok.Load(); got != 1 {
		t.Errorf("Start() returned nil %d times; want 1", got)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("runs = %d; want 1", got)
	}
}

func TestAwaitNeverStartsALazyTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			runs.Add(1)
			return 7, nil
		})
		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		start := time.Now()
		v, err := tk.Await(ctx)
		if v != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Await(ctx with 1m timeout) = %v, %v; want 0, DeadlineExceeded", v, err)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("Await returned after %v; want 1m", got)
		}
		if got := tk.State(); got != lazytask.Lazy {
			t.Errorf("State() after Await timed out = %v; want %v (I8)", got, lazytask.Lazy)
		}
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Errorf("runs after Await = %d; want 0", got)
		}
		// The task is still usable: starting it now runs it.
		require.NoError(t, tk.Start())
		v, err = tk.Await(bg)
		if v != 7 || err != nil {
			t.Errorf("Await(bg) after Start = %v, %v; want 7, nil", v, err)
		}
	})
}

func TestAwaitReturnsTheCauseOfItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
		cause := errors.New("caller gave up")
		ctx, cancel := context.WithCancelCause(bg)
		done := make(chan error, 1)
		go func() {
			_, err := tk.Await(ctx)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Await returned %v before its context ended; want it to wait", err)
		default:
		}
		cancel(cause)
		if err := <-done; err != cause {
			t.Errorf("Await(ctx canceled with cause) = %v; want %v", err, cause)
		}
		if got := tk.State(); got != lazytask.Lazy {
			t.Errorf("State() = %v; want %v", got, lazytask.Lazy)
		}
	})
}

func TestAwaitWithAnEndedContextReturnsAtOnce(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
	cause := errors.New("already over")
	ctx, cancel := context.WithCancelCause(bg)
	cancel(cause)
	if _, err := tk.Await(ctx); err != cause {
		t.Errorf("Await(done ctx) = %v; want %v", err, cause)
	}
	if err := tk.Wait(ctx); err != cause {
		t.Errorf("Wait(done ctx) = %v; want %v", err, cause)
	}
	assert.Equal(t, lazytask.Lazy, tk.State(), "State()")
}

func TestAwaitDoesNotCancelARunningTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate()
		tk := lazytask.New(g.fn)
		require.NoError(t, tk.Start())
		<-g.started
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		if _, err := tk.Await(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Await(1s) = %v; want DeadlineExceeded", err)
		}
		assert.Equal(t, lazytask.Running, tk.State(), "State() after Await timed out")
		g.finish(3, nil)
		v, err := tk.Await(bg)
		if v != 3 || err != nil {
			t.Errorf("Await(bg) = %v, %v; want 3, nil", v, err)
		}
	})
}

func TestStateResultAndDoneAtEachStep(t *testing.T) {
	g := newGate()
	tk := lazytask.New(g.fn)
	assert.Equal(t, lazytask.Lazy, tk.State(), "State() after New")
	done := tk.Done()

	require.NoError(t, tk.Start())
	<-g.started
	assert.Equal(t, lazytask.Running, tk.State(), "State() while running")
	if _, err := tk.Result(); !errors.Is(err, lazytask.ErrNotDone) {
		t.Errorf("Result() while running = _, %v; want ErrNotDone", err)
	}
	if err := tk.Err(); !errors.Is(err, lazytask.ErrNotDone) {
		t.Errorf("Err() while running = %v; want ErrNotDone", err)
	}
	assert.False(t, isClosed(done), "Done() closed while running")

	g.finish(42, nil)
	<-done
	assert.Equal(t, lazytask.Succeeded, tk.State(), "State() after the end")
	v, err := tk.Result()
	if v != 42 || err != nil {
		t.Errorf("Result() = %v, %v; want 42, nil", v, err)
	}
	assert.NoError(t, tk.Err(), "Err()")
	assert.True(t, isClosed(tk.Done()), "Done() asked after the end is closed")
}

func TestFunctionErrorEndsTheTaskFailed(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 5, errBoom })
	require.NoError(t, tk.Start())
	v, err := tk.Await(bg)
	if v != 0 || err != errBoom {
		t.Errorf("Await(bg) = %v, %v; want 0, %v: the value of a failed task is zero", v, err, errBoom)
	}
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
	assert.Equal(t, errBoom, tk.Err(), "Err()")
}

func TestManyAwaitersAllWake(t *testing.T) {
	g := newGate()
	tk := lazytask.New(g.fn)
	const n = 32
	got := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			v, _ := tk.Await(bg)
			got <- v
		})
	}
	require.NoError(t, tk.Start())
	g.finish(9, nil)
	wg.Wait()
	close(got)
	for v := range got {
		if v != 9 {
			t.Errorf("Await(bg) = %d; want 9", v)
		}
	}
}

func TestHandleIsTheTypeErasedView(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, errBoom })
	var h lazytask.Handle = tk
	assert.Equal(t, lazytask.Lazy, h.State(), "h.State()")
	require.NoError(t, h.Start())
	if err := h.Wait(bg); err != errBoom {
		t.Errorf("h.Wait(bg) = %v; want %v", err, errBoom)
	}
	assert.True(t, isClosed(h.Done()), "h.Done() closed after Wait")
	assert.Equal(t, errBoom, h.Err(), "h.Err()")
	info := h.Info()
	assert.Equal(t, lazytask.Failed, info.State, "h.Info().State")
	assert.Equal(t, errBoom, info.Err, "h.Info().Err")
	assert.False(t, info.OverCap, "h.Info().OverCap of a standalone task")
}

func TestStateStrings(t *testing.T) {
	for _, tc := range []struct {
		s        lazytask.State
		name     string
		terminal bool
	}{
		{lazytask.Lazy, "lazy", false},
		{lazytask.Queued, "queued", false},
		{lazytask.Running, "running", false},
		{lazytask.Succeeded, "succeeded", true},
		{lazytask.Failed, "failed", true},
		{lazytask.Canceled, "canceled", true},
		{lazytask.State(99), "invalid", false},
	} {
		if got := tc.s.String(); got != tc.name {
			t.Errorf("State(%d).String() = %q; want %q", tc.s, got, tc.name)
		}
		if got := tc.s.Terminal(); got != tc.terminal {
			t.Errorf("%v.Terminal() = %v; want %v", tc.s, got, tc.terminal)
		}
	}
}
