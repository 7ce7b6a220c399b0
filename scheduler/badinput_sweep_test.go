package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lazysched/lazysched/internal/testguard"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// The bad-input sweep: every exported function and method with nil, zero,
// negative, huge and after-close arguments. Each case returns its
// documented error (errors.Is), and each runs under a deadline so that a
// hang fails the case instead of the whole run. Where the documentation
// says nothing (a nil Option), the case only checks that nothing panics or
// hangs.

var biLogger = slog.New(slog.DiscardHandler)

// biSched makes a scheduler that is shut down (with a grace period, so
// that a bug cannot hang the cleanup) when the test ends.
func biSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(append([]scheduler.SchedulerOption{scheduler.WithLogger(biLogger)}, opts...)...)
	if err != nil {
		testguard.Fatalf(t, "New = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testguard.Deadline)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func biScope(t *testing.T, parent *scheduler.Scope, opts ...scheduler.Option) *scheduler.Scope {
	t.Helper()
	sc, err := parent.NewScope(opts...)
	if err != nil {
		testguard.Fatalf(t, "NewScope = %v", err)
	}
	return sc
}

// biFn counts its runs and returns 1.
func biFn(runs *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		runs.Add(1)
		return 1, nil
	}
}

// biHold submits a task that holds its slots until release is called (or
// its context ends) and waits until it runs.
func biHold(t *testing.T, sp scheduler.Spawner, opts ...lazytask.Option) (h *lazytask.Task[int], release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	h, err := scheduler.Submit(sp, func(ctx context.Context) (int, error) {
		close(started)
		select {
		case <-gate:
			return 0, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, opts...)
	if err != nil {
		testguard.Fatalf(t, "Submit(holder) = %v", err)
	}
	<-started
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			close(gate)
		}
	}
	t.Cleanup(release)
	return h, release
}

// biQueued submits a task behind a holder, so that it stays Queued.
func biQueued(t *testing.T, s *scheduler.Scheduler, runs *atomic.Int32) *lazytask.Task[int] {
	t.Helper()
	h, err := scheduler.Submit(s, biFn(runs))
	if err != nil || h.State() != lazytask.Queued {
		testguard.Fatalf(t, "Submit behind a holder = %v, %v; want nil, queued", err, h.State())
	}
	return h
}

func biWant(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v; want %v", call, err, want)
	}
}

// biEnded checks that a task ended in state st with want and never ran.
func biEnded(t *testing.T, call string, h *lazytask.Task[int], st lazytask.State, want error, runs *atomic.Int32) {
	t.Helper()
	if got := h.State(); got != st {
		t.Errorf("%s: task is %v; want %v", call, got, st)
	}
	if err := h.Err(); !errors.Is(err, want) {
		t.Errorf("%s: Err() = %v; want %v", call, err, want)
	}
	if runs != nil && runs.Load() != 0 {
		t.Errorf("%s: the function ran %d times; want 0", call, runs.Load())
	}
}

func TestBadInputSweepConstructors(t *testing.T) {
	testguard.Case(t, "New with a cap below 1", func(t *testing.T) {
		for _, n := range []int{0, -1, math.MinInt} {
			s, err := scheduler.New(scheduler.WithLimit(n))
			if s != nil || !errors.Is(err, scheduler.ErrInvalidLimit) {
				t.Errorf("New(WithLimit(%d)) = %v, %v; want nil, ErrInvalidLimit", n, s, err)
			}
		}
	})
	testguard.Case(t, "New with a queue limit below 1", func(t *testing.T) {
		for _, n := range []int{0, -1, math.MinInt} {
			s, err := scheduler.New(scheduler.WithQueueLimit(n))
			if s != nil || !errors.Is(err, scheduler.ErrInvalidLimit) {
				t.Errorf("New(WithQueueLimit(%d)) = %v, %v; want nil, ErrInvalidLimit", n, s, err)
			}
		}
	})
	testguard.Case(t, "a timeout that is not positive", func(t *testing.T) {
		for _, d := range []time.Duration{0, -1, math.MinInt64} {
			if _, err := scheduler.New(scheduler.WithTimeout(d)); !errors.Is(err, scheduler.ErrInvalidOption) {
				t.Errorf("New(WithTimeout(%v)) = %v; want ErrInvalidOption", d, err)
			}
			s := biSched(t)
			if _, err := s.Root().NewScope(scheduler.WithTimeout(d)); !errors.Is(err, scheduler.ErrInvalidOption) {
				t.Errorf("NewScope(WithTimeout(%v)) = %v; want ErrInvalidOption", d, err)
			}
		}
	})
	testguard.Case(t, "scheduler-only options are not scope options", func(t *testing.T) {
		// NewScope takes ...Option: these do not compile there.
		s := biSched(t)
		for name, o := range map[string]scheduler.SchedulerOption{
			"Unlimited":         scheduler.Unlimited(),
			"WithQueueLimit(1)": scheduler.WithQueueLimit(1),
			"WithLogger":        scheduler.WithLogger(biLogger),
			"WithExecutor":      scheduler.WithExecutor(func(run func()) { go run() }),
			"WithAging":         scheduler.WithAging(time.Second),
		} {
			if _, ok := o.(scheduler.Option); ok {
				t.Errorf("%s is a scheduler.Option; want a SchedulerOption only, refused by NewScope at compile time", name)
			}
		}
		for _, n := range []int{0, -1} {
			if _, err := s.Root().NewScope(scheduler.WithLimit(n)); !errors.Is(err, scheduler.ErrInvalidLimit) {
				t.Errorf("NewScope(WithLimit(%d)) = %v; want ErrInvalidLimit", n, err)
			}
		}
	})
	testguard.Case(t, "nil options", func(t *testing.T) {
		// Undocumented: nothing may panic or hang, and what is made works.
		s, err := scheduler.New(nil, scheduler.WithLogger(biLogger), nil)
		if err != nil {
			return
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		if sc, err := s.Root().NewScope(nil); err == nil {
			var runs atomic.Int32
			h, err := scheduler.Submit(sc, biFn(&runs))
			if err != nil {
				testguard.Fatalf(t, "Submit to a scope made with a nil option = %v", err)
			}
			if v, err := h.Await(context.Background()); v != 1 || err != nil {
				t.Errorf("Await = %d, %v; want 1, nil", v, err)
			}
		}
	})
	testguard.Case(t, "a huge cap", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(math.MaxInt))
		if got := s.Stats().Limit; got != math.MaxInt {
			t.Errorf("Stats().Limit = %d; want MaxInt", got)
		}
		var runs atomic.Int32
		h, err := scheduler.Submit(s, biFn(&runs), lazytask.WithWeight(math.MaxInt))
		if err != nil {
			testguard.Fatalf(t, "Submit(WithWeight(MaxInt)) with cap MaxInt = %v", err)
		}
		if v, err := h.Await(context.Background()); v != 1 || err != nil {
			t.Errorf("Await = %d, %v; want 1, nil", v, err)
		}
	})
}

func TestBadInputSweepSubmission(t *testing.T) {
	testguard.Case(t, "nil functions", func(t *testing.T) {
		s := biSched(t)
		h, err := scheduler.Submit[int](s, nil)
		biWant(t, "Submit(nil)", err, scheduler.ErrNilFunc)
		biEnded(t, "Submit(nil)", h, lazytask.Failed, lazytask.ErrNilFunc, nil)
		g, err := scheduler.Go(s.Root(), nil)
		biWant(t, "Go(nil)", err, scheduler.ErrNilFunc)
		if g.State() != lazytask.Failed {
			t.Errorf("Go(nil): task is %v; want failed", g.State())
		}
		w, err := scheduler.SubmitWait[int](context.Background(), s, nil)
		biWant(t, "SubmitWait(nil)", err, scheduler.ErrNilFunc)
		biEnded(t, "SubmitWait(nil)", w, lazytask.Failed, lazytask.ErrNilFunc, nil)
		n := scheduler.NewTask[int](s, nil)
		biEnded(t, "NewTask(nil)", n, lazytask.Failed, lazytask.ErrNilFunc, nil)
		if got := s.Stats().Submitted; got != 0 {
			t.Errorf("Stats().Submitted = %d; want 0", got)
		}
	})
	testguard.Case(t, "invalid task options", func(t *testing.T) {
		s := biSched(t)
		for name, o := range map[string]lazytask.Option{
			"WithWeight(0)":        lazytask.WithWeight(0),
			"WithWeight(-1)":       lazytask.WithWeight(-1),
			"WithTimeout(-1)":      lazytask.WithTimeout(-1),
			"WithPriority(MaxInt)": lazytask.WithPriority(math.MaxInt),
		} {
			if name == "WithPriority(MaxInt)" && math.MaxInt == math.MaxInt32 {
				continue
			}
			var runs atomic.Int32
			h, err := scheduler.Submit(s, biFn(&runs), o)
			biWant(t, "Submit("+name+")", err, lazytask.ErrInvalidOption)
			biEnded(t, "Submit("+name+")", h, lazytask.Failed, lazytask.ErrInvalidOption, &runs)
		}
	})
	testguard.Case(t, "a weight above a cap", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(3))
		sc := biScope(t, s.Root(), scheduler.WithLimit(2))
		for _, tc := range []struct {
			name string
			sp   scheduler.Spawner
			w    int
		}{{"scheduler, weight 4", s, 4}, {"scheduler, weight MaxInt", s, math.MaxInt}, {"scope, weight 3", sc, 3}} {
			var runs atomic.Int32
			h, err := scheduler.Submit(tc.sp, biFn(&runs), lazytask.WithWeight(tc.w))
			biWant(t, "Submit("+tc.name+")", err, scheduler.ErrWeightTooLarge)
			biEnded(t, "Submit("+tc.name+")", h, lazytask.Failed, scheduler.ErrWeightTooLarge, &runs)
		}
		var runs atomic.Int32
		lazy := lazytask.New(biFn(&runs), lazytask.WithWeight(3))
		biWant(t, "scope.Enqueue(weight 3, cap 2)", sc.Enqueue(lazy), scheduler.ErrWeightTooLarge)
		bound := scheduler.NewTask(sc, biFn(&runs), lazytask.WithWeight(3))
		biWant(t, "scope.Enqueue(bound, weight 3, cap 2)", sc.Enqueue(bound), scheduler.ErrWeightTooLarge)
		if lazy.State() != lazytask.Lazy || bound.State() != lazytask.Lazy {
			t.Errorf("a refused Enqueue left the tasks %v and %v; want lazy", lazy.State(), bound.State())
		}
		// A force-run bypasses every cap.
		if err := sc.Force(bound); err != nil {
			testguard.Fatalf(t, "Force(weight 3, cap 2) = %v; want nil (over the cap)", err)
		}
		if v, err := bound.Await(context.Background()); v != 1 || err != nil {
			t.Errorf("the forced heavy task: Await = %d, %v; want 1, nil", v, err)
		}
		lazy.Cancel(nil)
	})
}

func TestBadInputSweepHandles(t *testing.T) {
	testguard.Case(t, "nil handles", func(t *testing.T) {
		s := biSched(t)
		sc := biScope(t, s.Root())
		biWant(t, "Scheduler.Enqueue(nil)", s.Enqueue(nil), scheduler.ErrForeignHandle)
		biWant(t, "Scheduler.Force(nil)", s.Force(nil), scheduler.ErrForeignHandle)
		biWant(t, "Scheduler.Promote(nil)", s.Promote(nil), scheduler.ErrForeignHandle)
		biWant(t, "Scope.Enqueue(nil)", sc.Enqueue(nil), scheduler.ErrForeignHandle)
		biWant(t, "Scope.Force(nil)", sc.Force(nil), scheduler.ErrForeignHandle)
	})
	testguard.Case(t, "Promote and Force of tasks not waiting here", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(1))
		other := biSched(t, scheduler.WithLimit(1))
		running, _ := biHold(t, s)
		biHold(t, other)
		var runs atomic.Int32
		foreignQueued := biQueued(t, other, &runs)
		done := lazytask.New(biFn(&runs))
		_ = done.Start()
		_, _ = done.Await(context.Background())
		canceled := lazytask.New(biFn(&runs))
		canceled.Cancel(nil)
		for _, tc := range []struct {
			name string
			h    lazytask.Handle
		}{
			{"an unbound Lazy task", lazytask.New(biFn(&runs))},
			{"a bound Lazy task", scheduler.NewTask(s, biFn(&runs))},
			{"a running task", running},
			{"a succeeded task", done},
			{"a canceled task", canceled},
			{"a task failed at creation", lazytask.New[int](nil)},
			{"a task queued in another scheduler", foreignQueued},
		} {
			biWant(t, "Promote("+tc.name+")", s.Promote(tc.h), scheduler.ErrNotQueued)
		}
		for _, tc := range []struct {
			name string
			h    lazytask.Handle
		}{
			{"a running task", running},
			{"a succeeded task", done},
			{"a canceled task", canceled},
			{"a task failed at creation", lazytask.New[int](nil)},
			{"a task queued in another scheduler", foreignQueued},
		} {
			biWant(t, "Force("+tc.name+")", s.Force(tc.h), scheduler.ErrNotQueued)
		}
		// A Lazy task bound to another scheduler: ErrForeignHandle by the
		// variable's doc, ErrNotQueued by Force's ("another scheduler").
		foreignLazy := scheduler.NewTask(other, biFn(&runs))
		if err := s.Force(foreignLazy); !errors.Is(err, scheduler.ErrForeignHandle) && !errors.Is(err, scheduler.ErrNotQueued) {
			t.Errorf("Force(a Lazy task bound to another scheduler) = %v; want ErrForeignHandle or ErrNotQueued", err)
		}
		if foreignQueued.State() != lazytask.Queued || foreignLazy.State() != lazytask.Lazy {
			t.Errorf("refused calls changed the foreign tasks: %v, %v", foreignQueued.State(), foreignLazy.State())
		}
	})
	testguard.Case(t, "Enqueue of tasks bound elsewhere, and twice", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(1))
		other := biSched(t)
		a, b := biScope(t, s.Root()), biScope(t, s.Root())
		biHold(t, s)
		var runs atomic.Int32
		boundA := scheduler.NewTask(a, biFn(&runs))
		biWant(t, "b.Enqueue(a task bound to a)", b.Enqueue(boundA), scheduler.ErrForeignHandle)
		biWant(t, "other.Enqueue(a task bound to a)", other.Enqueue(boundA), scheduler.ErrForeignHandle)
		if boundA.State() != lazytask.Lazy {
			t.Errorf("refused Enqueue left the task %v; want lazy", boundA.State())
		}
		if err := a.Enqueue(boundA); err != nil {
			t.Errorf("a.Enqueue(its own task) = %v", err)
		}
		biWant(t, "a second Enqueue", a.Enqueue(boundA), scheduler.ErrNotQueued)
		// Queued and bound elsewhere: either refusal is documented.
		if err := b.Enqueue(boundA); !errors.Is(err, scheduler.ErrNotQueued) && !errors.Is(err, scheduler.ErrForeignHandle) {
			t.Errorf("Enqueue in another scope of a queued task = %v; want ErrNotQueued or ErrForeignHandle", err)
		}
		if got := s.Stats().Submitted; got != 2 {
			t.Errorf("Stats().Submitted = %d; want 2 (the holder and one Enqueue)", got)
		}
	})
	testguard.Case(t, "Start twice, Cancel(nil), Cancel after the end", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(1))
		_, release := biHold(t, s)
		var runs, runs2 atomic.Int32
		q := biQueued(t, s, &runs)
		if err := q.Start(); err != nil {
			t.Errorf("Start() of a queued task = %v; want nil (a force-run)", err)
		}
		biWant(t, "a second Start()", q.Start(), lazytask.ErrStarted)
		_, _ = q.Await(context.Background())
		if runs.Load() != 1 {
			t.Errorf("the force-run task ran %d times; want 1", runs.Load())
		}
		c := biQueued(t, s, &runs2)
		if !c.Cancel(nil) {
			t.Errorf("Cancel(nil) of a queued task = false")
		}
		biEnded(t, "Cancel(nil) of a queued task", c, lazytask.Canceled, context.Canceled, &runs2)
		if c.Cancel(errors.New("again")) || q.Cancel(errors.New("late")) {
			t.Errorf("Cancel after the end = true; want false")
		}
		release()
	})
	testguard.Case(t, "Resize below 1", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(3))
		sc := biScope(t, s.Root(), scheduler.WithLimit(2))
		for _, n := range []int{0, -1, math.MinInt} {
			biWant(t, "Scheduler.Resize", s.Resize(n), scheduler.ErrInvalidLimit)
			biWant(t, "Root().Resize", s.Root().Resize(n), scheduler.ErrInvalidLimit)
			biWant(t, "Scope.Resize", sc.Resize(n), scheduler.ErrInvalidLimit)
		}
		if got := s.Stats().Limit; got != 3 {
			t.Errorf("Stats().Limit after refused Resizes = %d; want 3", got)
		}
		if err := s.Resize(math.MaxInt); err != nil {
			t.Errorf("Resize(MaxInt) = %v", err)
		}
	})
}

func TestBadInputSweepEndedContexts(t *testing.T) {
	testguard.Case(t, "Wait with an ended context while a task runs", func(t *testing.T) {
		s := biSched(t)
		biHold(t, s)
		cause := errors.New("gave up")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		if err := s.Wait(ctx); err != cause {
			t.Errorf("Wait(ended ctx) = %v; want its cause", err)
		}
	})
	testguard.Case(t, "Shutdown with an ended context cancels at once", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(1))
		running, _ := biHold(t, s)
		var runs atomic.Int32
		q := biQueued(t, s, &runs)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		biWant(t, "Shutdown(ended ctx)", s.Shutdown(ctx), context.Canceled)
		biEnded(t, "the queued task", q, lazytask.Canceled, scheduler.ErrClosed, &runs)
		if st := running.State(); st != lazytask.Canceled {
			t.Errorf("the running task that honours its context is %v; want canceled", st)
		}
	})
	testguard.Case(t, "Shield with an ended context and odd timeouts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, d := range []time.Duration{0, -1, math.MinInt64} {
			err := scheduler.Shield(ctx, d, func(sctx context.Context) error {
				if _, ok := sctx.Deadline(); ok {
					t.Errorf("Shield(timeout %v): the context has a deadline; want none", d)
				}
				return sctx.Err()
			})
			if err != nil {
				t.Errorf("Shield(ended ctx, %v) = %v; want nil (the cleanup's context is live)", d, err)
			}
		}
		boom := errors.New("cleanup failed")
		if err := scheduler.Shield(ctx, time.Hour, func(context.Context) error { return boom }); err != boom {
			t.Errorf("Shield = %v; want fn's error", err)
		}
	})
}

func TestBadInputSweepAfterShutdown(t *testing.T) {
	testguard.Case(t, "a shut-down scheduler refuses everything", func(t *testing.T) {
		s := biSched(t)
		var runs atomic.Int32
		queuedBefore := scheduler.NewTask(s, biFn(&runs))
		if err := s.Shutdown(context.Background()); err != nil {
			testguard.Fatalf(t, "Shutdown = %v", err)
		}
		h, err := scheduler.Submit(s, biFn(&runs))
		biWant(t, "Submit after Shutdown", err, scheduler.ErrClosed)
		biEnded(t, "Submit after Shutdown", h, lazytask.Canceled, scheduler.ErrClosed, &runs)
		g, err := scheduler.Go(s, func(context.Context) error { runs.Add(1); return nil })
		biWant(t, "Go after Shutdown", err, scheduler.ErrClosed)
		if g.State() != lazytask.Canceled {
			t.Errorf("Go after Shutdown: task is %v; want canceled", g.State())
		}
		w, err := scheduler.SubmitWait(context.Background(), s, biFn(&runs))
		biWant(t, "SubmitWait after Shutdown", err, scheduler.ErrClosed)
		biEnded(t, "SubmitWait after Shutdown", w, lazytask.Canceled, scheduler.ErrClosed, &runs)
		n := scheduler.NewTask(s, biFn(&runs))
		biEnded(t, "NewTask after Shutdown", n, lazytask.Canceled, scheduler.ErrClosed, &runs)
		biEnded(t, "a NewTask made before Shutdown (I10)", queuedBefore, lazytask.Canceled, lazytask.ErrScopeClosed, &runs)
		if _, err := s.Root().NewScope(); !errors.Is(err, scheduler.ErrClosed) {
			t.Errorf("NewScope after Shutdown = %v; want ErrClosed", err)
		}
		lazy := lazytask.New(biFn(&runs))
		biWant(t, "Enqueue after Shutdown", s.Enqueue(lazy), scheduler.ErrClosed)
		if lazy.State() != lazytask.Lazy {
			t.Errorf("a refused Enqueue left the task %v; want lazy", lazy.State())
		}
		biWant(t, "Force of a Lazy task after Shutdown", s.Force(lazy), scheduler.ErrClosed)
		biWant(t, "Promote after Shutdown", s.Promote(h), scheduler.ErrNotQueued)
		biWant(t, "a second Shutdown", s.Shutdown(context.Background()), scheduler.ErrClosed)
		biWant(t, "a third Shutdown", s.Shutdown(context.Background()), scheduler.ErrClosed)
		if err := s.Wait(context.Background()); err != nil {
			t.Errorf("Wait after Shutdown = %v; want nil at once", err)
		}
		// Undocumented after Shutdown, but they must neither panic nor hang.
		_ = s.Resize(2)
		_ = s.Snapshot()
		s.Root().Cancel(nil)
		_ = s.Root().Err()
		if st := s.Stats(); st.InUse != 0 || st.Running != 0 || st.Queued != 0 || st.OverCap != 0 {
			t.Errorf("Stats() after Shutdown = %+v; want nothing in use, running or queued", st)
		}
		if runs.Load() != 0 {
			t.Errorf("%d refused functions ran", runs.Load())
		}
		lazy.Cancel(nil)
	})
	testguard.Case(t, "a shut-down scope refuses, its parent goes on", func(t *testing.T) {
		s := biSched(t)
		sc := biScope(t, s.Root())
		if err := sc.Shutdown(context.Background()); err != nil {
			testguard.Fatalf(t, "Scope.Shutdown = %v", err)
		}
		var runs atomic.Int32
		h, err := scheduler.Submit(sc, biFn(&runs))
		biWant(t, "Submit to a shut-down scope", err, scheduler.ErrClosed)
		biEnded(t, "Submit to a shut-down scope", h, lazytask.Canceled, scheduler.ErrClosed, &runs)
		if _, err := sc.NewScope(); !errors.Is(err, scheduler.ErrClosed) {
			t.Errorf("NewScope of a shut-down scope = %v; want ErrClosed", err)
		}
		biWant(t, "a second Scope.Shutdown", sc.Shutdown(context.Background()), scheduler.ErrClosed)
		ok, err := scheduler.Submit(s, biFn(&runs))
		if err != nil {
			testguard.Fatalf(t, "Submit to the parent = %v", err)
		}
		if v, err := ok.Await(context.Background()); v != 1 || err != nil {
			t.Errorf("the parent's task: Await = %d, %v; want 1, nil", v, err)
		}
	})
	testguard.Case(t, "a canceled scope refuses with its cause", func(t *testing.T) {
		s := biSched(t)
		sc := biScope(t, s.Root())
		var runs atomic.Int32
		before := scheduler.NewTask(sc, biFn(&runs))
		sc.Cancel(nil)
		sc.Cancel(errors.New("again")) // level-triggered: no panic, no change
		if cause := context.Cause(sc.Context()); cause != context.Canceled {
			t.Errorf("Cancel(nil): the scope's cause is %v; want context.Canceled", cause)
		}
		biEnded(t, "a bound Lazy task of the canceled scope", before, lazytask.Canceled, context.Canceled, &runs)
		h, err := scheduler.Submit(sc, biFn(&runs))
		biWant(t, "Submit to a canceled scope", err, scheduler.ErrScopeCanceled)
		biWant(t, "Submit to a canceled scope (the cause)", err, context.Canceled)
		biEnded(t, "Submit to a canceled scope", h, lazytask.Canceled, scheduler.ErrScopeCanceled, &runs)
		n := scheduler.NewTask(sc, biFn(&runs))
		biEnded(t, "NewTask in a canceled scope", n, lazytask.Canceled, scheduler.ErrScopeCanceled, &runs)
		if _, err := sc.NewScope(); !errors.Is(err, scheduler.ErrScopeCanceled) {
			t.Errorf("NewScope of a canceled scope = %v; want ErrScopeCanceled", err)
		}
		lazy := lazytask.New(biFn(&runs))
		biWant(t, "Enqueue to a canceled scope", sc.Enqueue(lazy), scheduler.ErrScopeCanceled)
		biWant(t, "Force of a Lazy task in a canceled scope", sc.Force(lazy), scheduler.ErrScopeCanceled)
		if lazy.State() != lazytask.Lazy {
			t.Errorf("refused calls left the task %v; want lazy", lazy.State())
		}
		_ = sc.Shutdown(context.Background())
		lazy.Cancel(nil)
	})
	testguard.Case(t, "a full bounded queue", func(t *testing.T) {
		s := biSched(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		biHold(t, s)
		var runs atomic.Int32
		biQueued(t, s, &runs)
		var runs2 atomic.Int32
		h, err := scheduler.Submit(s, biFn(&runs2))
		biWant(t, "Submit to a full queue", err, scheduler.ErrQueueFull)
		biEnded(t, "Submit to a full queue", h, lazytask.Canceled, scheduler.ErrQueueFull, &runs2)
		lazy := lazytask.New(biFn(&runs2))
		biWant(t, "Enqueue to a full queue", s.Enqueue(lazy), scheduler.ErrQueueFull)
		if lazy.State() != lazytask.Lazy {
			t.Errorf("a refused Enqueue left the task %v; want lazy", lazy.State())
		}
		cause := errors.New("no room")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		w, err := scheduler.SubmitWait(ctx, s, biFn(&runs2))
		if err != cause {
			t.Errorf("SubmitWait(ended ctx) to a full queue = %v; want the cause", err)
		}
		biEnded(t, "SubmitWait(ended ctx)", w, lazytask.Canceled, cause, &runs2)
		lazy.Cancel(nil)
	})
}
