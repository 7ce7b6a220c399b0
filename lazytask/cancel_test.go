package lazytask_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

func TestCancelLazyTaskNeverRunsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		tk := lazytask.New(func(ctx context.Context) (int, error) {
			runs.Add(1)
			return 1, nil
		}, lazytask.WithTimings())
		cause := errors.New("not needed")
		var cbErr error
		tk.OnDone(func(_ int, err error) { cbErr = err })
		if !tk.Cancel(cause) {
			t.Errorf("Cancel(cause) on a Lazy task = false; want true")
		}
		assert.Equal(t, lazytask.Canceled, tk.State(), "State()")
		if err := tk.Err(); err != cause {
			t.Errorf("Err() = %v; want %v", err, cause)
		}
		if v, err := tk.Await(bg); v != 0 || err != cause {
			t.Errorf("Await(bg) = %v, %v; want 0, %v", v, err, cause)
		}
		assert.Equal(t, cause, cbErr, "callback error")
		assert.True(t, isClosed(tk.Done()), "Done() closed")
		if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Errorf("Start() after Cancel = %v; want ErrStarted", err)
		}
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Errorf("runs = %d; want 0 (I4)", got)
		}
		tm := tk.Timings()
		assert.True(t, tm.Started.IsZero(), "Timings().Started of a task that never ran = %v; want zero", tm.Started)
		assert.False(t, tm.Finished.IsZero(), "Timings().Finished of a canceled task is zero; want set")
	})
}

func TestCancelWithNilCauseReportsContextCanceled(t *testing.T) {
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
	require.True(t, tk.Cancel(nil), "Cancel(nil)")
	if err := tk.Err(); err != context.Canceled {
		t.Errorf("Err() after Cancel(nil) = %v; want context.Canceled", err)
	}
}

func TestCancelAfterTheEndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func() *lazytask.Task[int]
		state lazytask.State
		err   error
		val   int // a failed task's value is the zero int
	}{
		{"succeeded", func() *lazytask.Task[int] {
			return lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
		}, lazytask.Succeeded, nil, 1},
		{"failed", func() *lazytask.Task[int] {
			return lazytask.New(func(ctx context.Context) (int, error) { return 1, errBoom })
		}, lazytask.Failed, errBoom, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tc.make()
			require.NoError(t, tk.Start())
			_, _ = tk.Await(bg)
			if tk.Cancel(errors.New("late")) {
				t.Errorf("Cancel after the end = true; want false")
			}
			v, err := tk.Result()
			if v != tc.val || err != tc.err {
				t.Errorf("Result() after a late Cancel = %v, %v; want %v, %v", v, err, tc.val, tc.err)
			}
			assert.Equal(t, tc.state, tk.State(), "State() after a late Cancel")
		})
	}
	t.Run("canceled", func(t *testing.T) {
		tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
		first := errors.New("first")
		require.True(t, tk.Cancel(first))
		if tk.Cancel(errors.New("second")) {
			t.Errorf("second Cancel = true; want false")
		}
		assert.Equal(t, first, tk.Err(), "Err() after a second Cancel")
		assert.Equal(t, lazytask.Canceled, tk.State(), "State()")
	})
	t.Run("failed at creation", func(t *testing.T) {
		tk := lazytask.New[int](nil)
		if tk.Cancel(nil) {
			t.Errorf("Cancel on a task failed at creation = true; want false")
		}
		assert.ErrorIs(t, tk.Err(), lazytask.ErrNilFunc, "Err()")
	})
}

// runningTask starts a task whose function waits for its context, then for
// the test's go-ahead (so that it reads the context only after Cancel has
// returned), and reports what it saw.
type seenCtx struct {
	err, cause error
}

func startWaitingForCancel(t *testing.T, ret func(ctx context.Context) error) (tk *lazytask.Task[int], started, goAhead chan struct{}, seen chan seenCtx) {
	t.Helper()
	started, goAhead = make(chan struct{}), make(chan struct{})
	seen = make(chan seenCtx, 1)
	tk = lazytask.New(func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		<-goAhead
		seen <- seenCtx{ctx.Err(), context.Cause(ctx)}
		return 8, ret(ctx)
	})
	require.NoError(t, tk.Start())
	<-started
	return tk, started, goAhead, seen
}

func TestCancelRunningTaskCancelsItsContextWithTheCause(t *testing.T) {
	cause := errors.New("stop now")
	tk, _, goAhead, seen := startWaitingForCancel(t, func(ctx context.Context) error { return ctx.Err() })
	if !tk.Cancel(cause) {
		t.Errorf("Cancel(cause) on a Running task = false; want true")
	}
	close(goAhead)
	s := <-seen
	if s.err != context.Canceled {
		t.Errorf("ctx.Err() inside fn = %v; want context.Canceled", s.err)
	}
	if s.cause != cause {
		t.Errorf("context.Cause(ctx) inside fn = %v; want %v", s.cause, cause)
	}
	_, err := tk.Await(bg)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Await(bg) = %v; want context.Canceled (what fn returned)", err)
	}
	assert.Equal(t, lazytask.Canceled, tk.State(), "State() when fn returns ctx.Err()")
}

func TestCancelRunningTaskThatReturnsTheCauseEndsCanceled(t *testing.T) {
	cause := errors.New("stop now")
	tk, _, goAhead, _ := startWaitingForCancel(t, func(ctx context.Context) error { return context.Cause(ctx) })
	require.True(t, tk.Cancel(cause))
	close(goAhead)
	if _, err := tk.Await(bg); err != cause {
		t.Errorf("Await(bg) = %v; want %v", err, cause)
	}
	assert.Equal(t, lazytask.Canceled, tk.State(), "State() when fn returns context.Cause(ctx)")
}

func TestCancelRunningTaskWithNilCauseGivesContextCanceled(t *testing.T) {
	tk, _, goAhead, seen := startWaitingForCancel(t, func(ctx context.Context) error { return ctx.Err() })
	require.True(t, tk.Cancel(nil))
	close(goAhead)
	s := <-seen
	if s.cause != context.Canceled {
		t.Errorf("context.Cause(ctx) after Cancel(nil) = %v; want context.Canceled", s.cause)
	}
	_, _ = tk.Await(bg)
}

func TestCancelRunningTaskThatReturnsNilSucceeds(t *testing.T) {
	// §8: a task reports its true outcome.
	tk, _, goAhead, _ := startWaitingForCancel(t, func(ctx context.Context) error { return nil })
	require.True(t, tk.Cancel(errors.New("too late")))
	close(goAhead)
	v, err := tk.Await(bg)
	if v != 8 || err != nil {
		t.Errorf("Await(bg) = %v, %v; want 8, nil", v, err)
	}
	assert.Equal(t, lazytask.Succeeded, tk.State(), "State()")
}

func TestCancelRunningTaskThatReturnsAnotherErrorFails(t *testing.T) {
	tk, _, goAhead, _ := startWaitingForCancel(t, func(ctx context.Context) error { return errBoom })
	require.True(t, tk.Cancel(errors.New("stop")))
	close(goAhead)
	if _, err := tk.Await(bg); err != errBoom {
		t.Errorf("Await(bg) = %v; want %v", err, errBoom)
	}
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
}

func TestCancelRunningTaskTwiceReportsFalse(t *testing.T) {
	first := errors.New("first")
	tk, _, goAhead, seen := startWaitingForCancel(t, func(ctx context.Context) error { return ctx.Err() })
	require.True(t, tk.Cancel(first))
	if tk.Cancel(errors.New("second")) {
		t.Errorf("second Cancel of a Running task = true; want false")
	}
	close(goAhead)
	if s := <-seen; s.cause != first {
		t.Errorf("context.Cause(ctx) = %v; want the first cause %v", s.cause, first)
	}
	_, _ = tk.Await(bg)
}

func TestFunctionReturningContextCanceledOnItsOwnFails(t *testing.T) {
	// Nobody canceled the task: a context.Canceled from fn is a failure.
	tk := lazytask.New(func(ctx context.Context) (int, error) { return 0, context.Canceled })
	require.NoError(t, tk.Start())
	_, err := tk.Await(bg)
	assert.ErrorIs(t, err, context.Canceled, "Await(bg)")
	assert.Equal(t, lazytask.Failed, tk.State(), "State()")
}
