package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A task reports its true outcome: one past its own deadline never runs,
// one stopped by a cancellation it did not ask for and that returns its
// context's error ends Canceled with an error matching the cause, and a
// failed task's value is the zero value everywhere. The helpers of this
// file carry an "oc" prefix.

var ocCause = errors.New("outcome test: the cause")

// ocNeverRun returns a task body that records that it ran.
func ocNeverRun(ran *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		ran.Add(1)
		return 1, nil
	}
}

func TestTaskPastItsDeadlineNeverRunsItsFunction(t *testing.T) {
	past := func() lazytask.Option { return lazytask.WithDeadline(time.Now().Add(-time.Second)) }
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, ran *atomic.Int32) *lazytask.Task[int]
	}{
		{"lazytask.New then Start", func(t *testing.T, ran *atomic.Int32) *lazytask.Task[int] {
			h := lazytask.New(ocNeverRun(ran), past())
			require.NoError(t, h.Start(), "Start")
			return h
		}},
		{"scheduler.NewTask then Start", func(t *testing.T, ran *atomic.Int32) *lazytask.Task[int] {
			h := scheduler.NewTask(cpSched(t), ocNeverRun(ran), past())
			require.NoError(t, h.Start(), "Start")
			return h
		}},
		{"Submit with a free slot", func(t *testing.T, ran *atomic.Int32) *lazytask.Task[int] {
			h, err := scheduler.Submit(cpSched(t), ocNeverRun(ran), past())
			require.NoError(t, err, "Submit")
			return h
		}},
		{"Enqueue with a free slot", func(t *testing.T, ran *atomic.Int32) *lazytask.Task[int] {
			h := lazytask.New(ocNeverRun(ran), past())
			require.NoError(t, cpSched(t).Enqueue(h), "Enqueue")
			return h
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			h := tc.start(t, &ran)
			v, err := cpAwait(t, h)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Await")
			assert.Equal(t, 0, v, "Await: value")
			assert.Equal(t, int32(0), ran.Load(), "runs of the function of a task past its deadline")
			assert.NotEqual(t, lazytask.Succeeded, h.State(), "State()")
		})
	}
}

func TestQueuedTaskWhoseDeadlinePassesWhileItWaitsNeverRuns(t *testing.T) {
	// Under synctest: B's deadline is 1 s away, A holds the only slot for
	// 2 s of fake time. B then never runs, and C behind it does.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(quietLogger))
		require.NoError(t, err, "scheduler.New")
		defer func() { _ = s.Shutdown(context.Background()) }()
		ga := &scGate{started: make(chan struct{}), release: make(chan struct{})}
		defer ga.open()
		_, err = scheduler.Submit(s, ga.fn, lazytask.WithName("A"))
		require.NoError(t, err, "Submit(A)")
		<-ga.started
		var bRan, cRan atomic.Int32
		b, err := scheduler.Submit(s, ocNeverRun(&bRan), lazytask.WithName("B"), lazytask.WithDeadline(time.Now().Add(time.Second)))
		require.NoError(t, err, "Submit(B)")
		c, err := scheduler.Submit(s, ocNeverRun(&cRan), lazytask.WithName("C"))
		require.NoError(t, err, "Submit(C)")
		time.Sleep(2 * time.Second) // fake time: B's deadline passes in the queue
		ga.open()
		_, err = b.Await(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "B.Await")
		assert.Equal(t, int32(0), bRan.Load(), "runs of B's function")
		_, err = c.Await(context.Background())
		assert.NoError(t, err, "C.Await")
		assert.Equal(t, int32(1), cRan.Load(), "runs of C's function")
		require.NoError(t, s.Shutdown(context.Background()), "Shutdown")
		assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse after Shutdown")
	})
}

// ocSeen is what the user code after a task's end saw of it.
type ocSeen struct {
	mu       sync.Mutex
	cbErr    error
	cbVal    int
	hookErr  error
	hookSt   lazytask.State
	cb, hook int
}

// ocWatch makes a scheduler with a capturing logger and an OnDone hook that
// records what it saw of the task named "T" in seen.
func ocWatch(t *testing.T, seen *ocSeen, opts ...scheduler.SchedulerOption) (*scheduler.Scheduler, *scLogBuf) {
	t.Helper()
	logger, logs := scLogger()
	s := cpSched(t, append([]scheduler.SchedulerOption{scheduler.WithLogger(logger), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if h.Options().Name != "T" {
				return
			}
			info := h.Info()
			seen.mu.Lock()
			seen.hook++
			seen.hookErr, seen.hookSt = info.Err, info.State
			seen.mu.Unlock()
		},
	})}, opts...)...)
	return s, logs
}

// ocOnDone records what a done callback of h saw in seen.
func ocOnDone(h *lazytask.Task[int], seen *ocSeen) {
	h.OnDone(func(v int, err error) {
		seen.mu.Lock()
		seen.cb++
		seen.cbVal, seen.cbErr = v, err
		seen.mu.Unlock()
	})
}

// ocNoErrorLogged fails the test if logs hold an ERROR record.
func ocNoErrorLogged(t *testing.T, logs *scLogBuf) {
	t.Helper()
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("log = %q; want no ERROR record (a cancellation is not a failure)", out)
	}
}

func TestTaskStoppedByACancellationEndsCanceledWithTheCause(t *testing.T) {
	// A running task that returns ctx.Err() after a Cancel(cause) it did
	// not make ends Canceled, with an error that matches the cause in
	// Await, in its done callbacks and in OnDone hooks; it is no failure:
	// neither logged at ERROR by the default supervisor nor counted in
	// Stats().Failed.
	for _, tc := range []struct {
		name   string
		cancel func(sc *scheduler.Scope, h *lazytask.Task[int])
	}{
		{"its scope's Cancel", func(sc *scheduler.Scope, _ *lazytask.Task[int]) { sc.Cancel(ocCause) }},
		{"its parent scope's Cancel", func(sc *scheduler.Scope, _ *lazytask.Task[int]) { sc.Parent().Cancel(ocCause) }},
		{"the task's Cancel", func(_ *scheduler.Scope, h *lazytask.Task[int]) { h.Cancel(ocCause) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen ocSeen
			s, logs := ocWatch(t, &seen)
			parent := scChild(t, s.Root(), scheduler.WithName("parent"))
			sc := scChild(t, parent, scheduler.WithName("child"))
			started := make(chan struct{})
			h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				return 7, ctx.Err()
			}, lazytask.WithName("T"))
			require.NoError(t, err, "Submit(T)")
			ocOnDone(h, &seen)
			cpWithin(t, started, "T starting")
			tc.cancel(sc, h)
			v, err := cpAwait(t, h)
			assert.Equal(t, lazytask.Canceled, h.State(), "State()")
			assert.ErrorIs(t, err, ocCause, "Await: err")
			assert.ErrorIs(t, err, context.Canceled, "Await: err (what T returned)")
			assert.Equal(t, 0, v, "Await: value of a canceled task")
			require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
			seen.mu.Lock()
			defer seen.mu.Unlock()
			assert.Equal(t, 1, seen.cb, "done callback runs")
			assert.ErrorIs(t, seen.cbErr, ocCause, "done callback's err")
			assert.Equal(t, 1, seen.hook, "OnDone hook runs")
			assert.Equal(t, lazytask.Canceled, seen.hookSt, "OnDone hook: Info().State")
			assert.ErrorIs(t, seen.hookErr, ocCause, "OnDone hook: Info().Err")
			st := s.Stats()
			assert.Equal(t, uint64(0), st.Failed, "Stats().Failed")
			assert.Equal(t, uint64(1), st.Canceled, "Stats().Canceled")
			ocNoErrorLogged(t, logs)
		})
	}
}

func TestFailFastScopeReportsTheRealErrorOnly(t *testing.T) {
	// Five running tasks of a fail-fast scope return ctx.Err() when a sixth
	// fails: Wait returns the one real error, with no copy of
	// context.Canceled; each of the five ends Canceled with the failure as
	// its cause.
	logger, logs := scLogger()
	s := cpSched(t, scheduler.WithLimit(8), scheduler.WithLogger(logger))
	sc := scChild(t, s.Root(), scheduler.FailFast(), scheduler.WithName("ff"))
	var started sync.WaitGroup
	var waiters [5]*lazytask.Task[int]
	for i := range waiters {
		started.Add(1)
		var err error
		waiters[i], err = scheduler.Submit(sc, func(ctx context.Context) (int, error) {
			started.Done()
			<-ctx.Done()
			return 0, ctx.Err()
		})
		require.NoErrorf(t, err, "Submit(waiters[%d])", i)
	}
	allStarted := make(chan struct{})
	go func() { started.Wait(); close(allStarted) }()
	cpWithin(t, allStarted, "the five waiters starting")
	_, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, scErrA })
	require.NoError(t, err, "Submit(failing)")
	ctx, cancel := context.WithTimeout(context.Background(), cpHang)
	defer cancel()
	err = sc.Wait(ctx)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "fail-fast Wait = timed out")
	assert.ErrorIs(t, err, scErrA, "fail-fast Wait")
	assert.NotErrorIs(t, err, context.Canceled, "fail-fast Wait: no copy of context.Canceled")
	assert.Lenf(t, scJoined(err), 1, "errors joined in Wait's %v; want the one real error", err)
	for i, w := range waiters {
		assert.Equalf(t, lazytask.Canceled, w.State(), "waiters[%d].State()", i)
		assert.ErrorIsf(t, w.Err(), scErrA, "waiters[%d].Err(): the cause", i)
	}
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	assert.Equal(t, uint64(1), s.Stats().Failed, "Stats().Failed")
	// The root supervisor logs the scope's failure once, and nothing for the
	// cancellations it caused.
	assert.Equalf(t, 1, strings.Count(logs.String(), "level=ERROR"), "ERROR records in %q; want 1", logs.String())
}

func TestScopeTimeoutEndsItsTasksCanceled(t *testing.T) {
	// Tasks of a scope that times out and that return ctx.Err() end
	// Canceled with context.DeadlineExceeded; a task's own timeout stays a
	// failure.
	var seen ocSeen
	s, logs := ocWatch(t, &seen)
	sc := scChild(t, s.Root(), scheduler.WithName("timed"), scheduler.WithTimeout(20*time.Millisecond))
	untilDone := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 7, ctx.Err()
	}
	h, err := scheduler.Submit(sc, untilDone, lazytask.WithName("T"))
	require.NoError(t, err, "Submit(T)")
	ocOnDone(h, &seen)
	v, err := cpAwait(t, h)
	assert.Equal(t, lazytask.Canceled, h.State(), "State() of a task stopped by its scope's timeout")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Await: err")
	assert.Equal(t, 0, v, "Await: value")

	own, err := scheduler.Submit(s, untilDone, lazytask.WithName("own"), lazytask.WithTimeout(20*time.Millisecond))
	require.NoError(t, err, "Submit(own)")
	_, err = cpAwait(t, own)
	assert.Equal(t, lazytask.Failed, own.State(), "State() of a task stopped by its own timeout")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "own.Await: err")

	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	seen.mu.Lock()
	defer seen.mu.Unlock()
	assert.ErrorIs(t, seen.cbErr, context.DeadlineExceeded, "done callback's err")
	assert.Equal(t, lazytask.Canceled, seen.hookSt, "OnDone hook: Info().State")
	assert.ErrorIs(t, seen.hookErr, context.DeadlineExceeded, "OnDone hook: Info().Err")
	assert.Equal(t, uint64(1), s.Stats().Failed, "Stats().Failed (the own timeout alone)")
	out := logs.String()
	assert.Equalf(t, 1, strings.Count(out, "level=ERROR"), "ERROR records in %q; want 1 (the own timeout)", out)
	assert.NotContainsf(t, out, "task=T", "log = %q; want nothing about T", out)
}

func TestFailedTaskValueIsZeroEverywhere(t *testing.T) {
	s := cpSched(t)
	failing := func(context.Context) (int, error) { return 42, errBoom }
	h, err := scheduler.Submit(s, failing)
	require.NoError(t, err, "Submit")
	var cbVal atomic.Int64
	cbVal.Store(-1)
	cbDone := make(chan struct{})
	h.OnDone(func(v int, _ error) {
		cbVal.Store(int64(v))
		close(cbDone)
	})
	v, err := cpAwait(t, h)
	assert.ErrorIs(t, err, errBoom, "Await: err")
	assert.Equal(t, 0, v, "Await: value of a failed task")
	v, err = h.Result()
	assert.ErrorIs(t, err, errBoom, "Result: err")
	assert.Equal(t, 0, v, "Result: value of a failed task")
	cpWithin(t, cbDone, "done callback")
	assert.Equal(t, int64(0), cbVal.Load(), "done callback's value of a failed task")

	ok := func(context.Context) (int, error) { return 1, nil }
	vals, err := factory.Gather(context.Background(), factory.Of(s), ok, failing, ok)
	assert.ErrorIs(t, err, errBoom, "factory.Gather: err")
	assert.Equal(t, []int{1, 0, 1}, vals, "factory.Gather: values (a failed task's is zero)")

	out, err := factory.Map(context.Background(), factory.Of(s), []int{1, 2, 3}, 2, func(_ context.Context, v int) (int, error) {
		if v == 2 {
			return 42, errBoom
		}
		return 10 * v, nil
	})
	assert.ErrorIs(t, err, errBoom, "factory.Map: err")
	assert.Equal(t, []int{10, 0, 30}, out, "factory.Map: values (a failed call's is zero)")

	panicky, err := scheduler.Submit(s, func(context.Context) (*int, error) {
		panic("outcome test: boom")
	})
	require.NoError(t, err, "Submit(panicky)")
	p, err := cpAwait(t, panicky)
	var pe *lazytask.PanicError
	assert.ErrorAs(t, err, &pe, "Await of a panicking task: err")
	assert.Nil(t, p, "Await of a panicking task: value")
}
