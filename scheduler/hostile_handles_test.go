package scheduler_test

// Hostile tests of task handles in a scheduler, in the spirit of the
// suites of conc, asyncio's Futures and Tasks, Kotlin's Deferred and Job,
// and pond's task handles: handles handed to two schedulers, to one twice,
// after a start or a cancel; Force and Promote in every state; weights
// above the cap; self-awaits at cap 1; done callbacks that call back into
// the scheduler; states seen by hooks; readers racing the end.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/internal/testguard"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hhQuiet checks that s has nothing running, queued, lent or over the cap.
func hhQuiet(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	require.NoError(t, s.Wait(bg), "Wait")
	st := s.Stats()
	assert.Zero(t, st.InUse, "Stats().InUse")
	assert.Zero(t, st.Running, "Stats().Running")
	assert.Zero(t, st.Queued, "Stats().Queued")
	assert.Zero(t, st.OverCap+st.OverCapSlots, "Stats().OverCap + OverCapSlots")
}

// A Lazy task handed to two schedulers, or to one twice, is queued once:
// the second handoff is refused, the task stays queued where it was and
// runs once.
func TestHostileHandleEnqueueTwiceOrIntoTwoSchedulersQueuesOnce(t *testing.T) {
	s1 := startScheduler(t, scheduler.WithLimit(1))
	s2 := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s1)
	var runs atomic.Int32
	tk := lazytask.New(counted(&runs))
	require.NoError(t, s1.Enqueue(tk), "first Enqueue")
	require.Equal(t, lazytask.Queued, tk.State())

	err := s1.Enqueue(tk)
	assert.ErrorIs(t, err, scheduler.ErrNotQueued, "second Enqueue into the same scheduler")
	err = s2.Enqueue(tk)
	assert.True(t, errors.Is(err, scheduler.ErrNotQueued) || errors.Is(err, scheduler.ErrForeignHandle),
		"Enqueue into a second scheduler of a task queued in the first = %v; want ErrNotQueued or ErrForeignHandle", err)
	err = s2.Root().Enqueue(tk)
	assert.Error(t, err, "Enqueue into the second scheduler's root scope")
	assert.Equal(t, lazytask.Queued, tk.State(), "the refused handoffs left the task queued")
	assert.Equal(t, 1, s1.Stats().Queued, "s1 Stats().Queued")
	assert.Zero(t, s2.Stats().Queued+s2.Stats().Running, "s2 has the task neither queued nor running")
	assert.Zero(t, s2.Stats().Created, "s2 Stats().Created")

	g.open()
	v, err := tk.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.Equal(t, int32(1), runs.Load(), "runs")
	// After its end, in s1 it stays s1's: s2 refuses it again.
	assert.Error(t, s2.Enqueue(tk), "Enqueue of an ended task")
	assert.Error(t, s2.Force(tk), "Force of an ended task")
	hhQuiet(t, s1)
	hhQuiet(t, s2)
}

// Enqueue, Force and Promote of a task that was started on its own, or
// canceled, or has ended, are refused and leave it (and the scheduler)
// as they were: a task that keeps no timings still reads none.
func TestHostileHandleHandoffsOfAStartedTaskLeaveItAsItWas(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithTimings())
	release := make(chan struct{})
	started := make(chan struct{})
	tk := lazytask.New(func(context.Context) (int, error) {
		close(started)
		<-release
		return 2, nil
	})
	require.NoError(t, tk.Start())
	<-started
	assert.ErrorIs(t, s.Enqueue(tk), scheduler.ErrNotQueued, "Enqueue of a running task")
	assert.ErrorIs(t, s.Force(tk), scheduler.ErrNotQueued, "Force of a running task")
	assert.ErrorIs(t, s.Promote(tk), scheduler.ErrNotQueued, "Promote of a running task")
	close(release)
	v, err := tk.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	assert.Equal(t, "", tk.Info().Scope, "a task the scheduler refused has no scope")
	st := s.Stats()
	assert.Zero(t, st.Created+st.Submitted+st.ForceRuns+st.Succeeded, "the scheduler counted a task it refused: %+v", st)

	// (Its timings: TestHostileHandleRefusedEnqueueOfARunningTaskKeepsItWithoutTimings.)

	canceled := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	canceled.Cancel(errBoom)
	assert.ErrorIs(t, s.Enqueue(canceled), scheduler.ErrNotQueued, "Enqueue of a canceled task")
	assert.ErrorIs(t, s.Force(canceled), scheduler.ErrNotQueued, "Force of a canceled task")
	assert.Equal(t, lazytask.Canceled, canceled.State())
	assert.Equal(t, errBoom, canceled.Err())
}

// The timings half of the test above, alone, so that it is seen when it
// fails.
func TestHostileHandleRefusedEnqueueOfARunningTaskKeepsItWithoutTimings(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithTimings())
	release := make(chan struct{})
	started := make(chan struct{})
	tk := lazytask.New(func(context.Context) (int, error) {
		close(started)
		<-release
		return 2, nil
	})
	require.NoError(t, tk.Start())
	<-started
	require.ErrorIs(t, s.Enqueue(tk), scheduler.ErrNotQueued)
	close(release)
	_, _ = tk.Await(bg)
	tm := tk.Timings()
	assert.Equal(t, lazytask.Timings{}, tm, "Timings of a task that keeps none")
}

// Force and Promote in every state: Promote only moves a task queued in
// this scheduler; Force runs a queued or Lazy task; every other call is
// refused with a sentinel and changes nothing.
func TestHostileHandleForceAndPromoteInEveryState(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	other := startScheduler(t, scheduler.WithLimit(1))
	running, g := hold(t, s)
	_, og := hold(t, other)

	queuedElsewhere, err := scheduler.Submit(other, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	boundElsewhere := scheduler.NewTask(other, func(context.Context) (int, error) { return 1, nil })
	done := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, done.Start())
	<-done.Done()
	canceledInQueue, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	require.True(t, canceledInQueue.Cancel(nil))
	failedAtCreation := lazytask.New(func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(0))
	lazy := lazytask.New(func(context.Context) (int, error) { return 1, nil })

	for _, tc := range []struct {
		name  string
		h     *lazytask.Task[int]
		state lazytask.State
	}{
		{"running", running, lazytask.Running},
		{"queued in another scheduler", queuedElsewhere, lazytask.Queued},
		{"bound to another scheduler", boundElsewhere, lazytask.Lazy},
		{"succeeded", done, lazytask.Succeeded},
		{"canceled in the queue", canceledInQueue, lazytask.Canceled},
		{"failed at creation", failedAtCreation, lazytask.Failed},
		{"lazy", lazy, lazytask.Lazy},
	} {
		err := s.Promote(tc.h)
		assert.ErrorIs(t, err, scheduler.ErrNotQueued, "Promote(%s)", tc.name)
		assert.Equal(t, tc.state, tc.h.State(), "%s after Promote", tc.name)
		if tc.h == lazy {
			continue
		}
		err = s.Force(tc.h)
		assert.True(t, errors.Is(err, scheduler.ErrNotQueued) || errors.Is(err, scheduler.ErrForeignHandle),
			"Force(%s) = %v; want ErrNotQueued or ErrForeignHandle", tc.name, err)
		assert.Equal(t, tc.state, tc.h.State(), "%s after Force", tc.name)
	}
	assert.Zero(t, s.Stats().ForceRuns+s.Stats().Promoted, "refused calls were counted")
	assert.Equal(t, 1, other.Stats().Queued, "the other scheduler's queue")

	// A Lazy task force-runs in s, over the cap, while the holder holds.
	require.NoError(t, s.Force(lazy))
	v, err := lazy.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.True(t, lazy.Info().OverCap, "a force-run task reads OverCap")
	assert.Equal(t, uint64(1), s.Stats().ForceRuns, "Stats().ForceRuns")
	assert.ErrorIs(t, s.Force(lazy), scheduler.ErrNotQueued, "second Force of a task that ran")
	g.open()
	og.open()
	_, err = queuedElsewhere.Await(bg)
	require.NoError(t, err)
	boundElsewhere.Cancel(nil)
	hhQuiet(t, s)
	hhQuiet(t, other)
}

// Weights: a weight above the cap is refused with ErrWeightTooLarge
// (errors.Is) at Submit and at Enqueue, never a hang; a refused Lazy task
// stays Lazy and may be force-run over the cap, which it leaves whole;
// non-positive weights are ErrInvalidOption.
func TestHostileHandleWeightsAboveTheCapAndBelowOne(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(3))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	require.NotNil(t, h)
	assert.Equal(t, lazytask.Failed, h.State())
	assert.ErrorIs(t, h.Err(), scheduler.ErrWeightTooLarge)

	for _, w := range []int{0, -1, -1 << 40} {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil }, lazytask.WithWeight(w))
		assert.ErrorIs(t, err, scheduler.ErrInvalidOption, "Submit(WithWeight(%d))", w)
		assert.ErrorIs(t, h.Err(), lazytask.ErrInvalidOption, "handle of Submit(WithWeight(%d))", w)
	}

	var runs atomic.Int32
	heavy := lazytask.New(counted(&runs), lazytask.WithWeight(3))
	err = s.Enqueue(heavy)
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	assert.Equal(t, lazytask.Lazy, heavy.State(), "a refused Enqueue leaves the task Lazy")

	bound := scheduler.NewTask(s, counted(&runs), lazytask.WithWeight(3))
	require.ErrorIs(t, s.Enqueue(bound), scheduler.ErrWeightTooLarge)
	assert.Equal(t, lazytask.Lazy, bound.State(), "a refused bound task stays Lazy")

	// Force bypasses every cap.
	require.NoError(t, s.Force(heavy))
	require.NoError(t, bound.Start(), "Start of a bound Lazy task is a force-run")
	_, err = heavy.Await(bg)
	require.NoError(t, err)
	_, err = bound.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, int32(2), runs.Load())
	assert.Equal(t, uint64(2), s.Stats().ForceRuns)
	hhQuiet(t, s)
	// The slots are whole: two tasks of weight 1 run together again.
	a, ga := hold(t, s)
	b, gb := hold(t, s)
	assert.Equal(t, 2, s.Stats().InUse)
	ga.open()
	gb.open()
	_, _ = a.Await(bg)
	_, _ = b.Await(bg)
	hhQuiet(t, s)
}

// Await with an ended context on a queued task returns the cause at once,
// and neither starts nor cancels the task; on an ended task it returns
// the task's result (the task ended first).
func TestHostileHandleAwaitWithAnEndedContextInTheScheduler(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var runs atomic.Int32
	q, err := scheduler.Submit(s, counted(&runs))
	require.NoError(t, err)
	cause := errors.New("caller gave up")
	ctx, cancel := context.WithCancelCause(bg)
	cancel(cause)
	_, err = q.Await(ctx)
	assert.Equal(t, cause, err, "Await(ended ctx) of a queued task")
	assert.Equal(t, lazytask.Queued, q.State())
	assert.Zero(t, runs.Load())

	// From inside a task, with an ended context derived from its own: the
	// slot is not lent, nothing goes over the cap.
	inner := make(chan error, 1)
	g.open()
	w, err := scheduler.Submit(s, func(tctx context.Context) (int, error) {
		c, cancel := context.WithCancelCause(tctx)
		cancel(cause)
		b := lazytask.New(func(context.Context) (int, error) { return 0, nil })
		_, err := b.Await(c)
		inner <- err
		return 0, nil
	})
	require.NoError(t, err)
	_, err = w.Await(bg)
	require.NoError(t, err)
	assert.Equal(t, cause, <-inner, "Await(ended ctx) from inside a task")
	v, err := q.Await(ctx)
	assert.NoError(t, err, "Await(ended ctx) of an ended task returns its result")
	assert.Equal(t, 1, v)
	hhQuiet(t, s)
}

// Kotlin's self-join: a task at cap 1 that awaits its own handle lends
// its slot, so the task queued behind it runs; when that task cuts the
// wait short the waiter goes on (over the cap if need be) and, once both
// have ended, nothing is left lent or over the cap.
func TestHostileHandleSelfAwaitAtCapOneLendsItsSlot(t *testing.T) {
	testguard.Case(t, "self await", func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		cancels := make(chan context.CancelFunc, 1)
		waitErr := make(chan error, 1)
		aRunning := make(chan struct{})
		a, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			cancels <- cancel
			close(aRunning)
			waitErr <- lazytask.HandleOf(ctx).Wait(wctx)
			return 1, nil
		})
		require.NoError(t, err)
		<-aRunning
		b, err := scheduler.Submit(s, func(context.Context) (int, error) {
			(<-cancels)()
			return 2, nil
		})
		require.NoError(t, err)
		if _, err := b.Await(bg); err != nil {
			testguard.Fatalf(t, "b: %v", err)
		}
		if v, err := a.Await(bg); v != 1 || err != nil {
			t.Errorf("self-awaiting task = %d, %v; want 1, nil", v, err)
		}
		assert.ErrorIs(t, <-waitErr, context.Canceled, "the self-wait ends with its context's error")
		hhQuiet(t, s)
	})
}

// Done callbacks that call back into the scheduler: Cancel of a queued
// task, Promote, Force, Submit and Await of their own task, from the
// goroutine that ended the task. Nothing deadlocks, the canceled task
// never runs and the promoted task runs before the others.
func TestHostileHandleDoneCallbacksCallBackIntoTheScheduler(t *testing.T) {
	testguard.Case(t, "re-entrant callbacks", func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		_, g := hold(t, s)
		var l runLog
		b, _ := scheduler.Submit(s, l.logged("b"))
		c, _ := scheduler.Submit(s, l.logged("c"))
		d, _ := scheduler.Submit(s, l.logged("d"))
		f, _ := scheduler.Submit(s, l.logged("f"))
		a := lazytask.New(func(context.Context) (int, error) { return 1, nil })
		cause := errors.New("canceled by a callback")
		var e *lazytask.Task[string]
		cbDone := make(chan struct{})
		a.OnDone(func(v int, err error) {
			defer close(cbDone)
			if !b.Cancel(cause) {
				t.Errorf("Cancel of a queued task from a callback = false")
			}
			if err := s.Promote(d); err != nil {
				t.Errorf("Promote from a callback = %v", err)
			}
			if err := s.Force(f); err != nil {
				t.Errorf("Force from a callback = %v", err)
			}
			if got, err := a.Await(bg); got != 1 || err != nil {
				t.Errorf("Await of its own task from a callback = %d, %v", got, err)
			}
			var serr error
			e, serr = scheduler.Submit(s, l.logged("e"))
			if serr != nil {
				t.Errorf("Submit from a callback = %v", serr)
			}
			if err := s.Force(a); !errors.Is(err, scheduler.ErrNotQueued) {
				t.Errorf("Force of its own ended task from a callback = %v; want ErrNotQueued", err)
			}
		})
		require.NoError(t, s.Force(a))
		<-cbDone
		if _, err := f.Await(bg); err != nil {
			testguard.Fatalf(t, "forced task: %v", err)
		}
		g.open()
		for _, h := range []*lazytask.Task[string]{c, d, e} {
			if _, err := h.Await(bg); err != nil {
				t.Errorf("Await: %v", err)
			}
		}
		_, err := b.Await(bg)
		assert.Equal(t, cause, err, "the task canceled by a callback")
		assert.Equal(t, lazytask.Canceled, b.State())
		assert.Equal(t, []string{"f", "d", "c", "e"}, l.get(), "run order: forced, promoted, then FIFO")
		hhQuiet(t, s)
	})
}

// hookRecord is what the hooks saw of one task, in order.
type hookRecord struct {
	mu    sync.Mutex
	steps map[lazytask.Handle][]string
	st    map[lazytask.Handle][]lazytask.State
}

func (r *hookRecord) add(h lazytask.Handle, step string) {
	st := h.Info().State
	r.mu.Lock()
	r.steps[h] = append(r.steps[h], step)
	r.st[h] = append(r.st[h], st)
	r.mu.Unlock()
}

// The hooks see every task's life in order, the states they read never go
// back, OnDone reads a terminal state with the error Await returns, and a
// task canceled in the queue never reaches OnStart.
func TestHostileHandleHooksSeeAMonotonicLife(t *testing.T) {
	r := &hookRecord{steps: map[lazytask.Handle][]string{}, st: map[lazytask.Handle][]lazytask.State{}}
	s := startScheduler(t, scheduler.WithLimit(2), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { r.add(h, "create") },
		OnQueue:  func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { r.add(h, "queue") },
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			r.add(h, "start")
			return ctx
		},
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { r.add(h, "done") },
	}))
	gate := make(chan struct{})
	var hs []*lazytask.Task[int]
	for i := range 24 {
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			<-gate
			switch i % 4 {
			case 1:
				return 0, errBoom
			case 2:
				panic(fmt.Sprint("p", i))
			}
			return i, nil
		}, lazytask.WithPriority(i%3))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	var canceled []*lazytask.Task[int]
	for i, h := range hs {
		switch i % 6 {
		case 3:
			if h.Cancel(nil) && h.Timings().Started.IsZero() {
				canceled = append(canceled, h)
			}
		case 5:
			_ = s.Force(h)
		case 4:
			_ = s.Promote(h)
		}
	}
	enq := lazytask.New(func(context.Context) (int, error) { <-gate; return 0, nil })
	require.NoError(t, s.Enqueue(enq))
	hs = append(hs, enq)
	close(gate)
	require.NoError(t, s.Wait(bg))
	require.NoError(t, s.Shutdown(bg)) // every done hook has run
	order := map[string]int{"create": 0, "queue": 1, "start": 2, "done": 3}
	for i, h := range hs {
		_, aerr := h.Await(bg)
		r.mu.Lock()
		steps, sts := r.steps[h], r.st[h]
		r.mu.Unlock()
		if len(steps) == 0 || steps[len(steps)-1] != "done" || steps[0] != "create" {
			t.Errorf("task %d: hooks %v; want create first and done last", i, steps)
			continue
		}
		for j := 1; j < len(steps); j++ {
			if order[steps[j]] <= order[steps[j-1]] {
				t.Errorf("task %d: hooks out of order or repeated: %v", i, steps)
			}
			if sts[j] < sts[j-1] {
				t.Errorf("task %d: states seen by hooks went back: %v at %v", i, sts, steps)
			}
		}
		if !sts[len(sts)-1].Terminal() {
			t.Errorf("task %d: OnDone saw state %v", i, sts[len(sts)-1])
		}
		if info := h.Info(); info.Err != aerr || !errors.Is(h.Err(), aerr) {
			t.Errorf("task %d: Info().Err %v, Err() %v; Await gave %v", i, info.Err, h.Err(), aerr)
		}
	}
	for _, h := range canceled {
		r.mu.Lock()
		steps := r.steps[h]
		r.mu.Unlock()
		for _, st := range steps {
			if st == "start" {
				t.Errorf("a task canceled in the queue reached OnStart: %v", steps)
			}
		}
	}
}

// Every method of the Handle interface, read from several goroutines
// while a scheduled task (with hooks, timings and a force-run neighbour)
// ends: under -race nothing races, and what the readers see is coherent.
func TestHostileHandleReadersRacingTheEndInTheScheduler(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithTimings(),
		scheduler.WithHooks(scheduler.Hooks{OnDone: func(context.Context, *scheduler.Scope, lazytask.Handle) {}}))
	for range 10 {
		release := make(chan struct{})
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			<-release
			return 0, errBoom
		}, lazytask.WithName("x"), lazytask.WithLabel("k", "v"))
		require.NoError(t, err)
		var hh lazytask.Handle = h
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				last := lazytask.Lazy
				for {
					select {
					case <-stop:
						return
					default:
					}
					st := hh.State()
					if st < last {
						t.Errorf("State went back: %v then %v", last, st)
						return
					}
					last = st
					info := hh.Info()
					if info.State.Terminal() && !errors.Is(info.Err, errBoom) {
						t.Errorf("terminal Info().Err = %v", info.Err)
					}
					if o := hh.Options(); o.Name != "x" || o.Labels["k"] != "v" {
						t.Errorf("Options() = %+v", o)
					}
					tm := hh.Timings()
					if !tm.Finished.IsZero() && (tm.Started.IsZero() || tm.Finished.Before(tm.Started)) {
						t.Errorf("Timings() = %+v: a finish with no start, or before it", tm)
					}
					if err := hh.Err(); !errors.Is(err, lazytask.ErrNotDone) && !errors.Is(err, errBoom) {
						t.Errorf("Err() = %v", err)
					}
					_ = hh.Done()
				}
			})
		}
		close(release)
		require.ErrorIs(t, hh.Wait(bg), errBoom)
		close(stop)
		wg.Wait()
	}
	hhQuiet(t, s)
}

// A Lazy task bound to a scope that is canceled ends Canceled; Start,
// Enqueue and Force then refuse it and it never runs; its awaiters wake.
func TestHostileHandleBoundLazyTaskOfACanceledScope(t *testing.T) {
	s := startScheduler(t)
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	var runs atomic.Int32
	tk := scheduler.NewTask(sc, counted(&runs))
	woke := make(chan error, 1)
	go func() { _, err := tk.Await(bg); woke <- err }()
	cause := errors.New("scope gone")
	sc.Cancel(cause)
	assert.ErrorIs(t, <-woke, cause, "an awaiter of the bound task wakes with the scope's cause")
	assert.Equal(t, lazytask.Canceled, tk.State())
	assert.ErrorIs(t, tk.Start(), lazytask.ErrStarted, "Start of a task its scope canceled")
	assert.Error(t, sc.Enqueue(tk), "Enqueue of a task its scope canceled")
	assert.Error(t, s.Force(tk), "Force of a task its scope canceled")
	assert.False(t, tk.Cancel(nil), "Cancel of a canceled task")
	assert.Zero(t, runs.Load())
	hhQuiet(t, s)
}

// Many awaiters of a queued task: a Cancel wakes every one of them with
// the cause, and a done callback registered after the end runs once.
func TestHostileHandleManyAwaitersOfAQueuedTaskWakeOnCancel(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var runs atomic.Int32
	q, err := scheduler.Submit(s, counted(&runs))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { _, err := q.Await(bg); errs <- err })
	}
	cause := errors.New("no longer needed")
	require.True(t, q.Cancel(cause))
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.Equal(t, cause, err)
	}
	var n int
	q.OnDone(func(int, error) { n++ })
	assert.Equal(t, 1, n, "a callback registered after the end runs before OnDone returns")
	assert.False(t, q.Cancel(nil), "second Cancel")
	st := s.Stats()
	assert.Equal(t, uint64(1), st.Canceled, "Stats().Canceled")
	g.open()
	hhQuiet(t, s)
	assert.Zero(t, runs.Load())
	assert.Equal(t, uint64(1), s.Stats().Canceled, "a late Cancel counted nothing more")
}
