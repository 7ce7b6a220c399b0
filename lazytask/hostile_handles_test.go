package lazytask_test

// Hostile tests of the task handle on its own (no scheduler), in the
// spirit of the suites of conc, asyncio's Futures and Tasks, Kotlin's
// Deferred and pond's task handles: zero and nil handles, re-entrant done
// callbacks, callbacks registered while others still run, awaits with
// ended contexts, self-awaits, typed results, panics of every shape and
// readers racing the end.

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lazysched/lazysched/internal/testguard"
	"github.com/lazysched/lazysched/lazytask"
)

// A zero Task is documented as not usable; it must still answer without
// hanging anyone who holds it with an ended context, and it never runs.
func TestHostileHandleZeroValueTaskNeverHangsOrRuns(t *testing.T) {
	testguard.Case(t, "zero Task", func(t *testing.T) {
		var z lazytask.Task[int]
		if st := z.State(); st != lazytask.Lazy {
			t.Errorf("zero Task State() = %v; want lazy", st)
		}
		if _, err := z.Result(); !errors.Is(err, lazytask.ErrNotDone) {
			t.Errorf("zero Task Result() err = %v; want ErrNotDone", err)
		}
		if err := z.Start(); err == nil {
			t.Errorf("zero Task Start() = nil; want an error (it has no function)")
		}
		if st := z.State(); st != lazytask.Lazy {
			t.Errorf("after a refused Start, State() = %v; want lazy", st)
		}
		cause := errors.New("gave up")
		ctx, cancel := context.WithCancelCause(bg)
		cancel(cause)
		if _, err := z.Await(ctx); err != cause {
			t.Errorf("zero Task Await(ended ctx) = %v; want its cause", err)
		}
		// Handle's view of it is usable too.
		var h lazytask.Handle = &z
		if h.Name() != "" || h.Options().Weight != 1 {
			t.Errorf("zero Task options: name %q, weight %d; want \"\", 1", h.Name(), h.Options().Weight)
		}
	})
}

// Methods of a nil *Task may panic (the zero value is not usable), but
// they must not hang.
func TestHostileHandleNilTaskPanicsRatherThanHangs(t *testing.T) {
	var nilTask *lazytask.Task[int]
	calls := map[string]func(){
		"State":  func() { _ = nilTask.State() },
		"Result": func() { _, _ = nilTask.Result() },
		"Start":  func() { _ = nilTask.Start() },
		"Cancel": func() { _ = nilTask.Cancel(nil) },
		"Await":  func() { _, _ = nilTask.Await(bg) },
		"Done":   func() { _ = nilTask.Done() },
		"OnDone": func() { nilTask.OnDone(func(int, error) {}) },
	}
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			if p := testguard.Within(t, f); p == nil {
				t.Errorf("nil *Task %s returned normally; want a panic (a nil handle is a bug, not a task)", name)
			}
		})
	}
}

// asyncio's Future.result() after the end ignores the caller's deadline:
// a task that has ended gives its result even to an ended context.
func TestHostileHandleAwaitWithAnEndedContextOnAnEndedTaskReturnsTheResult(t *testing.T) {
	ctx, cancel := context.WithCancelCause(bg)
	cancel(errors.New("caller gave up"))

	ok := lazytask.New(func(context.Context) (int, error) { return 7, nil })
	_ = ok.Start()
	<-ok.Done()
	if v, err := ok.Await(ctx); v != 7 || err != nil {
		t.Errorf("Await(ended ctx) of a succeeded task = %d, %v; want 7, nil", v, err)
	}
	if err := ok.Wait(ctx); err != nil {
		t.Errorf("Wait(ended ctx) of a succeeded task = %v; want nil", err)
	}

	bad := lazytask.New(func(context.Context) (int, error) { return 0, errBoom })
	_ = bad.Start()
	<-bad.Done()
	if _, err := bad.Await(ctx); err != errBoom {
		t.Errorf("Await(ended ctx) of a failed task = %v; want its own error %v", err, errBoom)
	}

	canceled := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	mine := errors.New("mine")
	canceled.Cancel(mine)
	if _, err := canceled.Await(ctx); err != mine {
		t.Errorf("Await(ended ctx) of a canceled task = %v; want the task's cause %v", err, mine)
	}
}

// Done callbacks that call back into their own handle: Await and Result
// see the result at once, Cancel and Start refuse, and an OnDone from
// inside a callback runs after the callbacks registered before it, never
// nested inside the one that registered it.
func TestHostileHandleReentrantDoneCallbacks(t *testing.T) {
	testguard.Case(t, "re-entrant", func(t *testing.T) {
		g := newGate()
		tk := lazytask.New(g.fn)
		var mu sync.Mutex
		var order []string
		add := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		var innerRanInside atomic.Bool
		var insideA atomic.Bool
		tk.OnDone(func(v int, err error) {
			insideA.Store(true)
			add("A")
			if got, err := tk.Await(bg); got != 5 || err != nil {
				t.Errorf("Await from a callback = %d, %v; want 5, nil", got, err)
			}
			if got, err := tk.Result(); got != 5 || err != nil {
				t.Errorf("Result from a callback = %d, %v; want 5, nil", got, err)
			}
			if tk.Cancel(errors.New("late")) {
				t.Errorf("Cancel from a callback = true; want false (the task has ended)")
			}
			if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
				t.Errorf("Start from a callback = %v; want ErrStarted", err)
			}
			if !isClosed(tk.Done()) {
				t.Errorf("Done() is open inside a done callback")
			}
			tk.OnDone(func(v int, err error) {
				if insideA.Load() {
					innerRanInside.Store(true)
				}
				add("C")
				if v != 5 || err != nil {
					t.Errorf("inner callback got %d, %v; want 5, nil", v, err)
				}
			})
			add("A-end")
			insideA.Store(false)
		})
		tk.OnDone(func(int, error) { add("B") })
		if err := tk.Start(); err != nil {
			testguard.Fatalf(t, "Start() = %v", err)
		}
		<-g.started
		g.finish(5, nil)
		<-tk.Done()
		// The inner callback runs on the draining goroutine; wait for it
		// with a callback registered now, which runs after every other.
		last := make(chan struct{})
		tk.OnDone(func(int, error) { close(last) })
		<-last
		mu.Lock()
		got := slices.Clone(order)
		mu.Unlock()
		if want := []string{"A", "A-end", "B", "C"}; !slices.Equal(got, want) {
			t.Errorf("callback order = %v; want %v", got, want)
		}
		if innerRanInside.Load() {
			t.Errorf("a callback registered from inside a callback ran nested inside it")
		}
		if st := tk.State(); st != lazytask.Succeeded {
			t.Errorf("State() = %v; want succeeded", st)
		}
	})
}

// A callback registered after the end, while earlier callbacks still run
// on the ending goroutine, is not run by OnDone's caller: it runs after
// them (so that the order holds), and OnDone returns at once. The result
// is visible, and Await returns, while the slow callback still runs.
func TestHostileHandleOnDoneAfterTheEndWhileEarlierCallbacksRun(t *testing.T) {
	testguard.Case(t, "late OnDone", func(t *testing.T) {
		tk := lazytask.New(func(context.Context) (int, error) { return 3, nil })
		inA := make(chan struct{})
		releaseA := make(chan struct{})
		var aDone atomic.Bool
		tk.OnDone(func(int, error) {
			close(inA)
			<-releaseA
			aDone.Store(true)
		})
		_ = tk.Start()
		<-inA
		// The task has ended; callback A still runs.
		if v, err := tk.Await(bg); v != 3 || err != nil {
			t.Errorf("Await while a callback runs = %d, %v; want 3, nil", v, err)
		}
		ran := make(chan bool, 1)
		tk.OnDone(func(v int, err error) { ran <- aDone.Load() })
		select {
		case <-ran:
			t.Errorf("a callback registered after the end ran before OnDone returned, while an earlier one still ran")
		default:
		}
		close(releaseA)
		if afterA := <-ran; !afterA {
			t.Errorf("the late callback ran before the earlier one had returned")
		}
	})
}

// A task that awaits its own handle waits until its context ends (like
// Kotlin's self-join); Cancel from outside ends the wait with the cause,
// and the task ends Canceled.
func TestHostileHandleSelfAwaitIsEndedByCancel(t *testing.T) {
	testguard.Case(t, "self await", func(t *testing.T) {
		waiting := make(chan struct{})
		var self *lazytask.Task[int]
		ready := make(chan struct{})
		self = lazytask.New(func(ctx context.Context) (int, error) {
			<-ready
			h := lazytask.HandleOf(ctx)
			if h != lazytask.Handle(self) {
				t.Errorf("HandleOf(ctx) = %v; want the task itself", h)
			}
			close(waiting)
			err := h.Wait(ctx)
			return 0, err
		})
		close(ready)
		_ = self.Start()
		<-waiting
		cause := errors.New("stop waiting for yourself")
		if !self.Cancel(cause) {
			t.Errorf("Cancel of a running task = false; want true")
		}
		_, err := self.Await(bg)
		if !errors.Is(err, cause) {
			t.Errorf("self-awaiting task ended with %v; want %v", err, cause)
		}
		if st := self.State(); st != lazytask.Canceled {
			t.Errorf("State() = %v; want canceled", st)
		}
	})
}

// A task may cancel itself through HandleOf: its context is canceled with
// the cause at once, and returning nil afterwards is still a success.
func TestHostileHandleSelfCancelFromInside(t *testing.T) {
	cause := errors.New("self")
	var sawCause error
	var first, second bool
	tk := lazytask.New(func(ctx context.Context) (int, error) {
		h := lazytask.HandleOf(ctx)
		first = h.Cancel(cause)
		second = h.Cancel(errors.New("again"))
		<-ctx.Done()
		sawCause = context.Cause(ctx)
		return 9, nil
	})
	_ = tk.Start()
	v, err := tk.Await(bg)
	if !first || second {
		t.Errorf("Cancel from inside = %v then %v; want true then false", first, second)
	}
	if sawCause != cause {
		t.Errorf("context.Cause after a self-cancel = %v; want %v", sawCause, cause)
	}
	if v != 9 || err != nil || tk.State() != lazytask.Succeeded {
		t.Errorf("task that ignored its self-cancel: %v, %d, %v; want succeeded, 9, nil", tk.State(), v, err)
	}
}

type bigResult struct {
	a [32]int64
	s string
}

type myErr struct{ code int }

func (e *myErr) Error() string { return "myErr" }

// Results of many shapes come back typed; a failed task's value is the
// zero value of its type, whatever the function returned with its error.
func TestHostileHandleTypedResults(t *testing.T) {
	t.Run("struct{}", func(t *testing.T) {
		tk := lazytask.New(func(context.Context) (struct{}, error) { return struct{}{}, nil })
		_ = tk.Start()
		if _, err := tk.Await(bg); err != nil {
			t.Errorf("Await = %v", err)
		}
	})
	t.Run("big struct", func(t *testing.T) {
		want := bigResult{s: "x"}
		want.a[31] = 42
		tk := lazytask.New(func(context.Context) (bigResult, error) { return want, nil })
		_ = tk.Start()
		if got, err := tk.Await(bg); got != want || err != nil {
			t.Errorf("Await = %+v, %v; want %+v", got.a[31], err, want.a[31])
		}
	})
	t.Run("slice and pointer dropped on failure", func(t *testing.T) {
		s := lazytask.New(func(context.Context) ([]int, error) { return []int{1, 2}, errBoom })
		p := lazytask.New(func(context.Context) (*bigResult, error) { return &bigResult{}, errBoom })
		_ = s.Start()
		_ = p.Start()
		if v, err := s.Await(bg); v != nil || err != errBoom {
			t.Errorf("failed []int task Await = %v, %v; want nil, boom", v, err)
		}
		if v, err := p.Await(bg); v != nil || err != errBoom {
			t.Errorf("failed *T task Await = %v, %v; want nil, boom", v, err)
		}
		var got []int
		s.OnDone(func(v []int, err error) { got = v })
		if got != nil {
			t.Errorf("OnDone of a failed []int task got %v; want nil", got)
		}
	})
	t.Run("an error as the value", func(t *testing.T) {
		val := &myErr{code: 3}
		tk := lazytask.New(func(context.Context) (error, error) { return val, nil })
		_ = tk.Start()
		v, err := tk.Await(bg)
		if err != nil || v != val {
			t.Errorf("Task[error] Await = %v, %v; want the value and a nil error", v, err)
		}
		if tk.State() != lazytask.Succeeded {
			t.Errorf("a task whose value is an error is %v; want succeeded", tk.State())
		}
	})
	t.Run("typed error", func(t *testing.T) {
		tk := lazytask.New(func(context.Context) (int, error) { return 1, &myErr{code: 7} })
		_ = tk.Start()
		_, err := tk.Await(bg)
		var me *myErr
		if !errors.As(err, &me) || me.code != 7 {
			t.Errorf("errors.As(Await's error, *myErr) = %v (%v); want code 7", me, err)
		}
	})
}

// Panics of every shape end the task Failed with a *PanicError; an error
// value unwraps, a nil-pointer dereference unwraps to a runtime.Error,
// and callbacks registered before see the same error.
func TestHostileHandlePanicShapes(t *testing.T) {
	cases := []struct {
		name  string
		fn    func(context.Context) (int, error)
		check func(t *testing.T, pe *lazytask.PanicError, err error)
	}{
		{"error value", func(context.Context) (int, error) { panic(errBoom) }, func(t *testing.T, pe *lazytask.PanicError, err error) {
			if !errors.Is(err, errBoom) {
				t.Errorf("errors.Is(err, boom) = false for %v", pe.Value)
			}
		}},
		{"wrapped typed error", func(context.Context) (int, error) { panic(&myErr{code: 2}) }, func(t *testing.T, pe *lazytask.PanicError, err error) {
			var me *myErr
			if !errors.As(err, &me) || me.code != 2 {
				t.Errorf("errors.As(err, *myErr) failed for %v", pe.Value)
			}
		}},
		{"nil pointer", func(context.Context) (int, error) {
			var p *bigResult
			return int(p.a[0]), nil
		}, func(t *testing.T, pe *lazytask.PanicError, err error) {
			var re runtime.Error
			if !errors.As(err, &re) {
				t.Errorf("errors.As(err, runtime.Error) = false for %T", pe.Value)
			}
		}},
		{"string", func(context.Context) (int, error) { panic("plain") }, func(t *testing.T, pe *lazytask.PanicError, err error) {
			if pe.Value != "plain" || errors.Unwrap(err) != nil {
				t.Errorf("Value = %v, Unwrap = %v; want \"plain\", nil", pe.Value, errors.Unwrap(err))
			}
		}},
		{"context.Canceled", func(context.Context) (int, error) { panic(context.Canceled) }, func(t *testing.T, pe *lazytask.PanicError, err error) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := lazytask.New(c.fn)
			cbErr := make(chan error, 1)
			tk.OnDone(func(_ int, err error) { cbErr <- err })
			_ = tk.Start()
			v, err := tk.Await(bg)
			var pe *lazytask.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Await err = %v (%T); want a *PanicError", err, err)
			}
			if v != 0 || tk.State() != lazytask.Failed {
				t.Errorf("after a panic: %v, %d; want failed, 0", tk.State(), v)
			}
			if len(pe.Stack) == 0 {
				t.Errorf("PanicError.Stack is empty")
			}
			c.check(t, pe, err)
			if got := <-cbErr; got != err {
				t.Errorf("callback saw %v; want the same error as Await", got)
			}
		})
	}
}

// runtime.Goexit in a task: the task ends Failed with ErrGoexit, every
// awaiter wakes and every callback runs once, with the same error.
func TestHostileHandleGoexitWakesEveryAwaiterAndCallback(t *testing.T) {
	testguard.Case(t, "goexit", func(t *testing.T) {
		release := make(chan struct{})
		tk := lazytask.New(func(context.Context) (int, error) {
			<-release
			runtime.Goexit()
			return 1, nil
		})
		var calls atomic.Int32
		for range 3 {
			tk.OnDone(func(_ int, err error) {
				if !errors.Is(err, lazytask.ErrGoexit) {
					t.Errorf("callback err = %v; want ErrGoexit", err)
				}
				calls.Add(1)
			})
		}
		_ = tk.Start()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := tk.Await(bg); !errors.Is(err, lazytask.ErrGoexit) {
					t.Errorf("Await = %v; want ErrGoexit", err)
				}
			})
		}
		close(release)
		wg.Wait()
		<-tk.Done()
		// Callbacks of the exiting goroutine go on on another: wait for
		// them with one registered last.
		last := make(chan struct{})
		tk.OnDone(func(int, error) { close(last) })
		<-last
		if n := calls.Load(); n != 3 {
			t.Errorf("callbacks ran %d times; want 3", n)
		}
		if tk.State() != lazytask.Failed {
			t.Errorf("State() = %v; want failed", tk.State())
		}
	})
}

// Readers of the handle racing its end (run with -race): the state each
// reader sees never goes back, a terminal Info carries the final error,
// a Result that is not ErrNotDone is the final one, and a Finished time
// comes with a Started time.
func TestHostileHandleReadersRacingTheEndSeeAMonotonicLife(t *testing.T) {
	for range 20 {
		g := newGate()
		tk := lazytask.New(g.fn, lazytask.WithTimings(), lazytask.WithName("r"))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				last := lazytask.Lazy
				for {
					select {
					case <-stop:
						return
					default:
					}
					st := tk.State()
					if st < last {
						t.Errorf("State went back from %v to %v", last, st)
						return
					}
					last = st
					info := tk.Info()
					if info.State.Terminal() && !errors.Is(info.Err, errBoom) {
						t.Errorf("terminal Info with Err %v; want boom", info.Err)
					}
					if info.Name != "r" {
						t.Errorf("Info().Name = %q", info.Name)
					}
					tm := tk.Timings()
					if !tm.Finished.IsZero() && tm.Started.IsZero() {
						t.Errorf("Timings with a Finished time and no Started time")
					}
					if v, err := tk.Result(); !errors.Is(err, lazytask.ErrNotDone) && (v != 0 || !errors.Is(err, errBoom)) {
						t.Errorf("Result() = %d, %v; want ErrNotDone or 0, boom", v, err)
					}
				}
			})
		}
		_ = tk.Start()
		<-g.started
		g.finish(4, errBoom)
		<-tk.Done()
		close(stop)
		wg.Wait()
		if tk.State() != lazytask.Failed {
			t.Fatalf("State() = %v; want failed", tk.State())
		}
	}
}

// Cancel racing the end from many goroutines: at most one Cancel reports
// true, and if the task had already ended none does, its result intact.
func TestHostileHandleConcurrentCancelsReportOneChange(t *testing.T) {
	for range 50 {
		tk := lazytask.New(func(ctx context.Context) (int, error) { return 1, nil })
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				if tk.Cancel(nil) {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent Cancels of a Lazy task reported true; want 1", wins.Load())
		}
		if err := tk.Start(); !errors.Is(err, lazytask.ErrStarted) {
			t.Fatalf("Start after Cancel = %v; want ErrStarted", err)
		}
	}
}
