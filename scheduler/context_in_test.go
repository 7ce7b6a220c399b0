package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type ctxKey string

func TestBaseContextValuesReachTasksAndItsCancellationCancelsTheTree(t *testing.T) {
	bg := context.Background()
	base, cancel := context.WithCancelCause(context.WithValue(bg, ctxKey("app"), "billing"))
	defer cancel(nil)
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithBaseContext(base))
	child := scChild(t, s.Root())

	seen := make(chan any, 1)
	running, err := scheduler.Submit(child, func(ctx context.Context) (int, error) {
		seen <- ctx.Value(ctxKey("app"))
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	require.NoError(t, err)
	assert.Equal(t, "billing", <-seen, "a task's ctx.Value of the base context's key")
	ran := false
	queued, err := scheduler.Go(s, func(context.Context) error { ran = true; return nil })
	require.NoError(t, err)

	stop := errors.New("app stopping")
	cancel(stop)
	_, err = running.Await(bounded(t))
	assert.ErrorIs(t, err, stop, "the running task's error: its context's cause")
	assert.Equal(t, lazytask.Canceled, running.State(), "the running task's state")
	err = queued.Wait(bounded(t))
	assert.ErrorIs(t, err, stop, "the queued task's error")
	assert.Equal(t, lazytask.Canceled, queued.State(), "the queued task's state")
	assert.False(t, ran, "the queued task's function ran")
	_, err = scheduler.Go(s, func(context.Context) error { return nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit after the base context's cancellation")
}

func TestTaskCarriesTheValuesAndCancellationOfTheContextThatMadeIt(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	reqCtx, cancelReq := context.WithCancelCause(context.WithValue(context.Background(), ctxKey("request-id"), "r-42"))
	defer cancelReq(nil)

	seen := make(chan any, 1)
	running, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		seen <- ctx.Value(ctxKey("request-id"))
		<-ctx.Done()
		return 0, ctx.Err()
	}, lazytask.WithContext(reqCtx))
	require.NoError(t, err)
	assert.Equal(t, "r-42", <-seen, "ctx.Value of the carried context's key")
	ran := false
	queued, err := scheduler.Go(s, func(context.Context) error { ran = true; return nil }, lazytask.WithContext(reqCtx))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, queued.State())

	gone := errors.New("client went away")
	cancelReq(gone)
	err = queued.Wait(bounded(t))
	assert.ErrorIs(t, err, gone, "the queued task's error")
	assert.False(t, ran, "a queued task whose carried context is canceled never runs")
	_, err = running.Await(bounded(t))
	assert.ErrorIs(t, err, gone, "the running task's error matches the cause")
	assert.Equal(t, lazytask.Canceled, running.State(), "the running task's state")
}

func TestWithValuesKeepsTheValuesButNotTheCancellation(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	reqCtx, cancelReq := context.WithCancel(context.WithValue(context.Background(), ctxKey("request-id"), "r-7"))
	cancelReq() // the request is over before the job runs
	h, err := scheduler.Submit(s, func(ctx context.Context) (any, error) {
		return ctx.Value(ctxKey("request-id")), ctx.Err()
	}, lazytask.WithValues(reqCtx))
	require.NoError(t, err)
	v, err := h.Await(bounded(t))
	require.NoError(t, err, "a job that outlives its request")
	assert.Equal(t, "r-7", v, "the request id in the job's context")
}

func TestCarriedDeadlineIsTheTasksAndAnEndedContextStopsAStart(t *testing.T) {
	d := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	h := lazytask.New(func(ctx context.Context) (time.Time, error) {
		got, _ := ctx.Deadline()
		return got, nil
	}, lazytask.WithContext(ctx))
	require.NoError(t, h.Start())
	got, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.True(t, got.Equal(d), "ctx.Deadline() = %v; want the carried %v", got, d)

	cancel()
	ran := false
	late := lazytask.New(func(context.Context) (int, error) { ran = true; return 1, nil }, lazytask.WithContext(ctx))
	_ = late.Start() // it may be canceled first, or refused to run
	_, err = late.Await(bounded(t))
	assert.ErrorIs(t, err, context.Canceled, "a task made with an ended context")
	assert.False(t, ran, "its function ran")
}

// bounded is a context that ends the test's waits if the code under test
// hangs.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Hooks get the task's context (with the values it carries) and OnStart can
// give the function the context it runs with, which OnDone then gets: what
// a tracer needs to make the task's span a child of its submitter's.
func TestHooksSeeTheTasksContextAndOnStartChoosesTheFunctions(t *testing.T) {
	type spanKey struct{}
	got := make(chan string, 8)
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnCreate: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
			got <- "create sees " + ctx.Value(ctxKey("request-id")).(string)
		},
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			return context.WithValue(ctx, spanKey{}, "span-1")
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
			got <- "done sees " + ctx.Value(spanKey{}).(string)
		},
	}))
	req := context.WithValue(context.Background(), ctxKey("request-id"), "r-9")
	h, err := scheduler.Submit(s, func(ctx context.Context) (string, error) {
		if lazytask.HandleOf(ctx) == nil {
			return "", errors.New("the function's context does not lead to its task")
		}
		return ctx.Value(spanKey{}).(string) + " " + ctx.Value(ctxKey("request-id")).(string), nil
	}, lazytask.WithContext(req))
	require.NoError(t, err)
	v, err := h.Await(bounded(t))
	require.NoError(t, err)
	assert.Equal(t, "span-1 r-9", v, "the function's context: OnStart's, with the carried values")
	require.NoError(t, s.Shutdown(bounded(t)))
	close(got)
	var seen []string
	for g := range got {
		seen = append(seen, g)
	}
	assert.Equal(t, []string{"create sees r-9", "done sees span-1"}, seen, "what the hooks saw")
}

// A kept handle does not keep what its start hooks put in the function's
// context (a tracing span, say) once its done hooks have had it.
func TestAKeptHandleLetsGoOfTheStartHooksContext(t *testing.T) {
	type spanKey struct{}
	var ref weak.Pointer[[4096]byte]
	seen := make(chan bool, 1)
	s := scSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			span := new([4096]byte)
			ref = weak.Make(span)
			return context.WithValue(ctx, spanKey{}, span)
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
			seen <- ctx.Value(spanKey{}) != nil
		},
	}))
	h, err := scheduler.Go(s, func(context.Context) error { return nil })
	require.NoError(t, err)
	_, err = h.Await(bounded(t))
	require.NoError(t, err)
	assert.True(t, <-seen, "the done hook sees the start hook's context")
	require.NoError(t, s.Shutdown(bounded(t))) // the hooks' goroutine is done with the task
	for range 3 {
		runtime.GC()
	}
	assert.True(t, ref.Value() == nil, "the start hook's value, collected while the handle is kept")
	runtime.KeepAlive(h)
}

type runCtxKey struct{}

// runCtxHooks puts a value in the function's context at the start and
// sends what each done hook finds; with goexit, its done hook calls
// runtime.Goexit after sending.
func runCtxHooks(seen chan<- any, goexit bool) scheduler.Hooks {
	return scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) context.Context {
			return context.WithValue(ctx, runCtxKey{}, "span")
		},
		OnDone: func(ctx context.Context, _ *scheduler.Scope, _ lazytask.Handle) {
			seen <- ctx.Value(runCtxKey{})
			if goexit {
				runtime.Goexit()
			}
		},
	}
}

// Every done hook sees the context the start hooks gave the function,
// whatever goroutine it runs on: after a done hook, a done callback or the
// function called runtime.Goexit, after a fail-fast error whose canceled
// task's callback did, and with a callback registered late.
func TestDoneHooksSeeTheStartContextOnEveryPath(t *testing.T) {
	for _, mode := range []string{"hook-goexit", "callback-goexit", "function-goexit", "failfast-goexit", "late-callback"} {
		t.Run(mode, func(t *testing.T) {
			seen := make(chan any, 16)
			opts := []scheduler.SchedulerOption{scheduler.WithLimit(1), scheduler.WithHooks(runCtxHooks(seen, false)),
				scheduler.WithLogger(slog.New(slog.DiscardHandler))}
			if mode == "hook-goexit" {
				opts = append(opts, scheduler.WithHooks(runCtxHooks(seen, true)), scheduler.WithHooks(runCtxHooks(seen, false)))
			}
			if mode == "failfast-goexit" {
				opts = append(opts, scheduler.FailFast())
			}
			s, err := scheduler.New(opts...)
			require.NoError(t, err)
			gate := make(chan struct{})
			h, err := scheduler.Go(s, func(ctx context.Context) error {
				<-gate
				switch mode {
				case "function-goexit":
					runtime.Goexit()
				case "failfast-goexit":
					return errors.New("boom")
				}
				return nil
			})
			require.NoError(t, err)
			var calls atomic.Int32
			switch mode {
			case "callback-goexit":
				h.OnDone(func(struct{}, error) { calls.Add(1); runtime.Goexit() })
				h.OnDone(func(struct{}, error) { calls.Add(1) })
			case "failfast-goexit":
				q, err := scheduler.Go(s, func(context.Context) error { return nil })
				require.NoError(t, err)
				q.OnDone(func(struct{}, error) { runtime.Goexit() })
			}
			close(gate)
			if mode == "late-callback" {
				go h.OnDone(func(struct{}, error) { calls.Add(1) })
			}
			_ = s.Shutdown(context.Background())
			close(seen)
			var got []any
			for v := range seen {
				got = append(got, v)
			}
			require.NotEmpty(t, got)
			for _, v := range got {
				if mode == "failfast-goexit" && v == nil {
					continue // the queued task it canceled never started
				}
				assert.Equal(t, "span", v, "what a done hook found (all: %v)", got)
			}
			if mode == "callback-goexit" {
				assert.Equal(t, int32(2), calls.Load(), "callbacks run")
			}
		})
	}
}

// A carried context canceled while its tasks are being submitted: its
// cancellation reaches each task from the context package's goroutine,
// racing the submit's handoff (with and without hooks, whose handoff takes
// another path). Every task ends once, Canceled with the cause or having
// run, and every Await returns. (It crashed the scheduler, a canceled task
// taken for a NewTask's, while Submit handed such a task over as if
// nobody else could see it.)
func TestACarriedContextCanceledDuringTheSubmitsEndsEachTaskOnce(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		var opts []scheduler.SchedulerOption
		if hooked {
			opts = append(opts, scheduler.WithHooks(scheduler.Hooks{OnCreate: func(context.Context, *scheduler.Scope, lazytask.Handle) {}}))
		}
		s := scSched(t, append(opts, scheduler.WithLimit(2))...)
		stop := errors.New("request gone")
		for range 200 {
			ctx, cancel := context.WithCancelCause(context.Background())
			hs := make([]*lazytask.Task[struct{}], 0, 16)
			for i := range 16 {
				if i == 8 {
					go cancel(stop)
				}
				h, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithContext(ctx))
				if err != nil {
					// Canceled before the handoff: refused (with the
					// cause, unless the cancel was still publishing it),
					// and the handle has the cause.
					if !errors.Is(err, stop) {
						require.ErrorIs(t, err, scheduler.ErrNotQueued)
					}
					_, herr := h.Await(bounded(t))
					require.ErrorIs(t, herr, stop)
				}
				hs = append(hs, h)
			}
			for _, h := range hs {
				requireRanOrCanceledBy(t, h, stop)
			}
			cancel(stop) // if the goroutine has not yet
		}
		require.NoError(t, s.Shutdown(bounded(t)))
	}
}

// The same for NewTask: a carried context canceled while its tasks are
// being bound to the scope, then handed over. Each ends once, Canceled with
// the cause or having run; none stays in the scope's list of Lazy tasks
// (Shutdown would wait for it, and Stats would count it).
func TestACarriedContextCanceledDuringNewTaskEndsEachTaskOnce(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	stop := errors.New("request gone")
	for range 200 {
		ctx, cancel := context.WithCancelCause(context.Background())
		hs := make([]*lazytask.Task[struct{}], 0, 16)
		for i := range 16 {
			if i == 8 {
				go cancel(stop)
			}
			h := scheduler.NewTask(s, func(context.Context) (struct{}, error) { return struct{}{}, nil }, lazytask.WithContext(ctx))
			if i%2 == 0 {
				_ = s.Enqueue(h) // refused once canceled
			}
			hs = append(hs, h)
		}
		cancel(stop) // if the goroutine has not yet
		for _, h := range hs {
			if h.State() == lazytask.Lazy {
				if err := s.Enqueue(h); err != nil {
					require.ErrorIs(t, err, stop) // canceled since
				}
			}
			requireRanOrCanceledBy(t, h, stop)
		}
	}
	st := s.Stats()
	require.Zero(t, st.Lazy, "Lazy tasks left in the count")
	require.NoError(t, s.Shutdown(bounded(t)))
}

// A carried context canceled while its tasks are being started, force-run
// and handed over in every way a Lazy task can be (bound by NewTask or made
// by lazytask.New), with hooks on one round and not the other: each task
// ends once, as it ran or Canceled with the cause, and the scheduler's
// totals add up (Created = Succeeded + Failed + Canceled + Rejected, with
// nothing left Lazy, Queued or Running).
func TestACarriedContextCanceledDuringEveryHandoffKeepsTheTotals(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		var opts []scheduler.SchedulerOption
		if hooked {
			noop := func(context.Context, *scheduler.Scope, lazytask.Handle) {}
			opts = append(opts, scheduler.WithHooks(scheduler.Hooks{OnCreate: noop, OnQueue: noop, OnDone: noop}))
		}
		s := scSched(t, append(opts, scheduler.WithLimit(2))...)
		stop := errors.New("request gone")
		fn := func(context.Context) (struct{}, error) { return struct{}{}, nil }
		for range 100 {
			ctx, cancel := context.WithCancelCause(context.Background())
			hs := make([]*lazytask.Task[struct{}], 0, 24)
			for i := range 24 {
				if i == 12 {
					go cancel(stop)
				}
				var h *lazytask.Task[struct{}]
				switch i % 6 {
				case 0:
					h = scheduler.NewTask(s, fn, lazytask.WithContext(ctx))
					_ = h.Start()
				case 1:
					h = scheduler.NewTask(s, fn, lazytask.WithContext(ctx))
					_ = s.Force(h)
				case 2:
					h = lazytask.New(fn, lazytask.WithContext(ctx))
					_ = s.Enqueue(h)
				case 3:
					h = lazytask.New(fn, lazytask.WithContext(ctx))
					_ = s.Force(h)
				case 4:
					h, _ = scheduler.SubmitWait(ctx, s, fn, lazytask.WithContext(ctx))
				case 5:
					h, _ = scheduler.Submit(s, fn, lazytask.WithContext(ctx))
				}
				hs = append(hs, h)
			}
			cancel(stop) // if the goroutine has not yet
			for i, h := range hs {
				// One that Enqueue or Force refused (canceled already) is
				// owned by no scheduler: its context ends it all the same.
				requireRanOrCanceledBy(t, h, stop, "task %d", i)
			}
		}
		require.NoError(t, s.Shutdown(bounded(t)))
		st := s.Stats()
		require.Zero(t, st.Lazy+st.Queued+st.Running, "tasks left: %+v", st)
		require.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "totals: %+v", st)
	}
}

// The base context canceled while submitters race it, at a cap that keeps
// a backlog: each task ran or ended Canceled with the cause (a submit
// after the cancel is refused with ErrScopeCanceled), none runs after the
// cancel has returned, and the totals add up.
func TestTheBaseContextCanceledDuringSubmitsLeavesNoTaskBehind(t *testing.T) {
	for range 20 {
		base, cancel := context.WithCancelCause(context.Background())
		s := scSched(t, scheduler.WithLimit(1), scheduler.WithBaseContext(base))
		child := scChild(t, s.Root())
		stop := errors.New("app stopping")
		var canceled atomic.Bool
		var late atomic.Int32
		fn := func(context.Context) error {
			if canceled.Load() {
				late.Add(1)
			}
			return nil
		}
		hs := make(chan *lazytask.Task[struct{}], 4*200)
		done := make(chan struct{})
		for g := range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 200 {
					sp := scheduler.Spawner(s)
					if (g+i)%2 == 0 {
						sp = child
					}
					h, err := scheduler.Go(sp, fn)
					if err != nil {
						if !errors.Is(err, scheduler.ErrScopeCanceled) {
							t.Errorf("Go: %v", err)
						}
						continue
					}
					hs <- h
				}
			}()
		}
		cancel(stop)
		canceled.Store(true)
		for range 4 {
			<-done
		}
		close(hs)
		for h := range hs {
			requireRanOrCanceledBy(t, h, stop)
		}
		require.NoError(t, s.Shutdown(bounded(t)))
		// A task admitted before the cancel returned may still read the
		// flag after it: only the first can be so late at cap 1.
		require.LessOrEqual(t, late.Load(), int32(1), "tasks that started after the cancel")
		st := s.Stats()
		require.Zero(t, st.Lazy+st.Queued+st.Running, "tasks left: %+v", st)
		require.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "totals: %+v", st)
	}
}

// requireRanOrCanceledBy awaits h and requires that it ran (Succeeded, no
// error) or ended Canceled with cause, nothing else.
func requireRanOrCanceledBy(t *testing.T, h *lazytask.Task[struct{}], cause error, msgAndArgs ...any) {
	t.Helper()
	_, err := h.Await(bounded(t))
	switch h.State() {
	case lazytask.Succeeded:
		require.NoError(t, err, msgAndArgs...)
	case lazytask.Canceled:
		require.ErrorIs(t, err, cause, msgAndArgs...)
	default:
		require.Failf(t, "neither ran nor canceled", "state %v, error %v %v", h.State(), err, msgAndArgs)
	}
}
