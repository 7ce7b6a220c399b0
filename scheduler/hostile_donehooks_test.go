package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hostile tests of the done queue (donehooks.go): each holds a cap-1 slot
// with a gated task and queues tasks behind it (hdQueue), so that the ends
// hand their done hooks to the runner, and checks DoneQueue says so.

// hdPushed fails the test unless at least min tasks' hooks went to the
// runner.
func hdPushed(t *testing.T, s *scheduler.Scheduler, min int) (pushed, handed int) {
	t.Helper()
	pushed, handed = scheduler.DoneQueue(s)
	assert.GreaterOrEqual(t, pushed, min, "tasks whose done hooks went to the done queue's runner")
	return pushed, handed
}

// A done hook on the runner finds its task's Done channel (one a waiter
// took before the end) closed, as a task admitted by the end does. It
// failed before the fix: on the handoff path the channel was closed only
// once s.mu was let go, and the runner could take the hooks in between
// (Release now closes it under the lock when hooks go to the runner).
func TestHostileDoneHookOnTheRunnerFindsDoneClosed(t *testing.T) {
	saw := make(chan bool, 1)
	var doneCh <-chan struct{}
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if hdID(h) == 0 {
				saw <- isClosed(doneCh)
			}
		},
	}))
	hs, g := hdQueue(t, s, 2, nil, nil)
	doneCh = hs[0].Done() // a waiter's channel, made before the end
	inWindow, checked := holdWake(t)
	g.open()
	var closedInHook bool
	select {
	case closedInHook = <-saw:
	case <-inWindow:
		// The wake is held open: the hook runs in the window or after it.
		closedInHook = cpRecv(t, saw, "task 0's done hook")
	}
	close(checked)
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	hdPushed(t, s, 1)
	assert.True(t, closedInHook, "task 0's Done channel was closed when its OnDone hook ran")
}

// cpRecv receives from ch, failing the test on a hang.
func cpRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-hangGuard():
		t.Fatalf("%s: still waiting after %v", what, cpHang)
	}
	var zero T
	return zero
}

// hangGuard is the 10 s guard against a hang; never a synchronisation.
func hangGuard() <-chan time.Time { return time.After(cpHang) }

// Hooks registered on a child scope only: the child's tasks, ending with
// root tasks (no hooks) queued behind them, hand their hooks to the
// runner; each runs once, with the child as its scope and the context the
// child's OnStart gave; root tasks fire nothing.
func TestHostileDoneHooksOnAChildScopeOnly(t *testing.T) {
	counts := newDhCounts()
	const n = 40
	var bad atomic.Int32
	var child *scheduler.Scope
	s := startScheduler(t, scheduler.WithLimit(1))
	child, err := s.Root().NewScope(scheduler.WithName("child"), scheduler.WithHooks(scheduler.Hooks{
		OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
			return context.WithValue(ctx, runCtxKey{}, hdID(h))
		},
		OnDone: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if sc != child || ctx.Value(runCtxKey{}) != i || i%2 == 0 {
				bad.Add(1)
			}
			counts.add(i)
		},
	}))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, func(i int) scheduler.Spawner {
		if i%2 == 1 {
			return child
		}
		return s
	}, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.mu.Lock()
	for i := 1; i <= n; i += 2 {
		assert.Equal(t, 1, counts.n[i], "child task %d's done hook", i)
	}
	assert.Len(t, counts.n, n/2, "tasks whose hooks ran (the child's only)")
	counts.mu.Unlock()
	assert.Zero(t, bad.Load(), "hooks with a wrong scope or run context, or for a root task")
	hdPushed(t, s, n/2-1)
}

// A child scope's own hooks come after the ones it inherits; both sets run
// once per child task on the runner, the inherited set once per root task.
func TestHostileDoneHooksNestedScopesWithTheirOwnHooks(t *testing.T) {
	inherited, own := newDhCounts(), newDhCounts()
	const n = 30
	var order atomic.Int32 // own before inherited, seen for a task
	seenOwn := sync.Map{}
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if _, ok := seenOwn.Load(hdID(h)); ok {
				order.Add(1)
			}
			inherited.add(hdID(h))
		},
	}))
	child, err := s.Root().NewScope(scheduler.WithName("child"), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			seenOwn.Store(hdID(h), true)
			own.add(hdID(h))
		},
	}))
	require.NoError(t, err)
	grand, err := child.NewScope(scheduler.WithName("grand"))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, func(i int) scheduler.Spawner {
		switch i % 3 {
		case 1:
			return child
		case 2:
			return grand
		}
		return s
	}, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	inherited.each(t, n, "inherited hooks")
	own.mu.Lock()
	for i := 0; i <= n; i++ {
		want := 0
		if i%3 != 0 {
			want = 1
		}
		assert.Equal(t, want, own.n[i], "the child's own hook for task %d", i)
	}
	own.mu.Unlock()
	assert.Zero(t, order.Load(), "tasks whose own hook ran before the inherited one")
	hdPushed(t, s, n-1)
}

// With pprof labels, the context OnDone gets on the runner carries the
// task's labels (it is the run context the start hooks saw).
func TestHostileDoneHooksWithPprofLabelsSeeTheTasksLabels(t *testing.T) {
	const n = 20
	counts := newDhCounts()
	var bad atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithPprofLabels(), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			if v, ok := pprof.Label(ctx, "lazysched.task"); !ok || v != h.Name() {
				bad.Add(1)
			}
			counts.add(hdID(h))
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.Zero(t, bad.Load(), "done hooks whose context lacked the task's pprof label")
	hdPushed(t, s, n)
}

// With an executor: the runner is the scheduler's own goroutine, the
// tasks the executor's; every hook runs once, with its run context, and
// Shutdown waits for them.
func TestHostileDoneHooksWithAnExecutor(t *testing.T) {
	const n = 40
	counts := newDhCounts()
	var execRuns atomic.Int32
	var bad atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1),
		scheduler.WithExecutor(func(run func()) { execRuns.Add(1); go run() }),
		scheduler.WithHooks(scheduler.Hooks{
			OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
				return context.WithValue(ctx, runCtxKey{}, hdID(h))
			},
			OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				if ctx.Value(runCtxKey{}) != hdID(h) {
					bad.Add(1)
				}
				counts.add(hdID(h))
			},
		}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.Zero(t, bad.Load(), "done hooks without the run context")
	assert.Positive(t, execRuns.Load(), "tasks run on the executor")
	hdPushed(t, s, n)
}

// A done hook on the runner that awaits a task queued behind (the last
// one) and one that submits a task and awaits it: neither deadlocks, and
// every hook, the new task's included, runs once.
func TestHostileDoneHooksThatAwaitAndSubmit(t *testing.T) {
	const n = 10
	counts := newDhCounts()
	var s *scheduler.Scheduler
	var hs []*lazytask.Task[int]
	ready, oneDone := make(chan struct{}), make(chan struct{})
	var subErr atomic.Value
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			switch i {
			case 0:
				<-ready
				if _, err := hs[n].Await(bounded(t)); err != nil {
					subErr.Store(err)
				}
			case 1:
				nh, err := scheduler.Submit(s, func(context.Context) (int, error) { return 0, nil },
					lazytask.WithName(strconv.Itoa(n+1)))
				if err == nil {
					_, err = nh.Await(bounded(t))
				}
				if err != nil {
					subErr.Store(err)
				}
				defer close(oneDone)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	close(ready)
	g.open()
	_ = dhAwaitAll(t, hs)
	cpWithin(t, oneDone, "task 1's done hook") // before Shutdown refuses its Submit
	require.NoError(t, s.Shutdown(bounded(t)))
	assert.Nil(t, subErr.Load(), "an Await or Submit from a done hook failed")
	counts.each(t, n+1, "done hooks (the submitted task's included)")
	hdPushed(t, s, n-1)
}

// A done hook on the runner shuts the scheduler down while a running task
// waits for the done hook of a task queued behind that one on the runner:
// Shutdown waits for the running task, which waits for the hook behind,
// which only a hand-over can run.
func TestHostileDoneHookShutdownWhileATaskWaitsForALaterHook(t *testing.T) {
	const n = 5
	counts := newDhCounts()
	twoRan, tStarted, shutDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var s *scheduler.Scheduler
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			switch i {
			case 1:
				cpWithin(t, tStarted, "task 3's start")
				shutDone <- s.Shutdown(context.Background())
			case 2:
				close(twoRan)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, func(i int) func(context.Context) (int, error) {
		if i != 3 {
			return nil
		}
		return func(context.Context) (int, error) {
			close(tStarted)
			cpWithin(t, twoRan, "task 2's done hook, from task 3")
			return 3, nil
		}
	})
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, cpRecv(t, shutDone, "the Shutdown called from task 1's done hook"))
	_ = s.Shutdown(bounded(t)) // a second call: ErrClosed

	counts.each(t, n, "done hooks")
	_, handed := hdPushed(t, s, 3)
	assert.GreaterOrEqual(t, handed, 1, "hand-overs (task 2's hook could run no other way)")
}

// Shutdown, called from outside while a done hook on the runner is still
// inside, waits for it and for the hooks behind it: when it returns,
// every done hook has run. The hook goes on once Shutdown has begun (a
// lazy task bound to the root is canceled then, I10).
func TestHostileDoneHooksShutdownWaitsForAHookStillInside(t *testing.T) {
	const n = 12
	counts := newDhCounts()
	var lazy *lazytask.Task[int]
	lazyReady := make(chan struct{})
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i < 0 {
				return // the lazy task
			}
			if i == 1 {
				<-lazyReady
				cpWithin(t, lazy.Done(), "the lazy task's cancel by Shutdown")
			}
			counts.add(i)
		},
	}))
	lazy = scheduler.NewTask(s, func(context.Context) (int, error) { return 0, nil }, lazytask.WithName("lazy"))
	close(lazyReady)
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.ErrorIs(t, lazy.Err(), lazytask.ErrScopeClosed)
	hdPushed(t, s, n)
}

// A mix on the runner: hooks that call runtime.Goexit, hooks that panic,
// hooks that wait for a later task's hook, two hook sets. Every hook runs
// once, and once Shutdown returns no goroutine of the scheduler is left:
// not a runner handed over, nor the watchdog's timer goroutine.
func TestHostileDoneHooksMixLeavesNothingAfterShutdown(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	const n = 40
	first, second := newDhCounts(), newDhCounts()
	var badCtx atomic.Int32
	fired := make([]chan struct{}, n+1)
	for i := range fired {
		fired[i] = make(chan struct{})
	}
	s, err := scheduler.New(scheduler.WithLogger(quietLogger), scheduler.WithLimit(1),
		scheduler.WithHooks(scheduler.Hooks{
			OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				i := hdID(h)
				first.add(i)
				switch i % 5 {
				case 1:
					runtime.Goexit()
				case 2:
					panic(fmt.Sprintf("done hook of task %d", i))
				case 3:
					if i+1 <= n {
						cpWithin(t, fired[i+1], fmt.Sprintf("task %d's hook, from task %d's", i+1, i))
					}
				}
			},
		}),
		scheduler.WithHooks(scheduler.Hooks{
			OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
				return context.WithValue(ctx, runCtxKey{}, hdID(h))
			},
			OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				i := hdID(h)
				if ctx.Value(runCtxKey{}) != i {
					badCtx.Add(1)
				}
				second.add(i)
				close(fired[i])
			},
		}))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	first.each(t, n, "first hooks")
	second.each(t, n, "second hooks")
	assert.Zero(t, badCtx.Load(), "second hooks (also after a Goexit in the first) without the run context")
	hdPushed(t, s, n)
	goleak.VerifyNone(t, ignore)
}

// What a done hook on the runner sees: its task ended, its result and
// timings published, its end counted in Stats, the cap respected.
func TestHostileDoneHooksSeeTheirTasksEndAndCounters(t *testing.T) {
	const n = 30
	counts := newDhCounts()
	var bad sync.Map
	var s *scheduler.Scheduler
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithTimings(), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			info := h.Info()
			st := s.Stats()
			switch {
			case info.State != lazytask.Succeeded || h.Err() != nil:
				bad.Store(i, fmt.Sprintf("state %v err %v", info.State, h.Err()))
			case info.Timings.Finished.IsZero() || info.Timings.Finished.Before(info.Timings.Started):
				bad.Store(i, fmt.Sprintf("timings %+v", info.Timings))
			case st.Succeeded < uint64(i+1):
				bad.Store(i, fmt.Sprintf("Stats.Succeeded %d < %d", st.Succeeded, i+1))
			case st.Running > 1 || st.InUse > 1:
				bad.Store(i, fmt.Sprintf("Stats running %d in use %d at cap 1", st.Running, st.InUse))
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	bad.Range(func(k, v any) bool {
		t.Errorf("task %v's done hook saw %v", k, v)
		return true
	})
	st := s.Stats()
	assert.EqualValues(t, n+1, st.Succeeded)
	assert.Zero(t, st.Running+st.Queued+st.InUse)
	hdPushed(t, s, n)
}

// Tasks canceled while they run end Canceled and take the runner path;
// their hooks see the state and the cause.
func TestHostileDoneHooksOfTasksCanceledWhileRunning(t *testing.T) {
	const n = 20
	counts := newDhCounts()
	errStop := errors.New("stop")
	var bad atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i > 0 && (h.State() != lazytask.Canceled || !errors.Is(h.Err(), errStop)) {
				bad.Add(1)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, func(int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			lazytask.HandleOf(ctx).Cancel(errStop)
			<-ctx.Done()
			return 0, context.Cause(ctx)
		}
	})
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.Zero(t, bad.Load(), "hooks that did not see Canceled with the cause")
	hdPushed(t, s, n)
}

// Failures among successes: a failure's hooks run where it ended (after
// the supervisor's handler), the successes' on the runner; each once.
func TestHostileDoneHooksWithFailuresInBetween(t *testing.T) {
	const n = 30
	counts := newDhCounts()
	var handled atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { counts.add(hdID(h)) },
	}))
	child, err := s.Root().NewScope(scheduler.Supervise(func(lazytask.Info, error) { handled.Add(1) }))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, func(int) scheduler.Spawner { return child }, func(i int) func(context.Context) (int, error) {
		if i%3 != 0 {
			return nil
		}
		return func(context.Context) (int, error) { return 0, fmt.Errorf("task %d fails", i) }
	})
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.EqualValues(t, n/3, handled.Load(), "error handler calls")
	hdPushed(t, s, n-n/3-1)
}

// At GOMAXPROCS=1 the runner competes with the goroutine that goes on with
// the tasks for the only P; hooks that wait for later tasks' hooks (some
// spinning with Gosched rather than blocking) still each run once.
func TestHostileDoneHooksAtGOMAXPROCS1(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 200
	counts := newDhCounts()
	fired := make([]atomic.Bool, n+1)
	firedCh := make([]chan struct{}, n+1)
	for i := range firedCh {
		firedCh[i] = make(chan struct{})
	}
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			switch {
			case i%20 == 3 && i+5 <= n:
				cpWithin(t, firedCh[i+5], fmt.Sprintf("task %d's hook, from task %d's", i+5, i))
			case i%20 == 11 && i+3 <= n:
				for guard := hangGuard(); !fired[i+3].Load(); runtime.Gosched() {
					select {
					case <-guard:
						t.Errorf("task %d's hook never ran, spun for from task %d's", i+3, i)
						return
					default:
					}
				}
			}
			counts.add(i)
			fired[i].Store(true)
			close(firedCh[i])
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	_, handed := hdPushed(t, s, n)
	assert.GreaterOrEqual(t, handed, 1, "hand-overs")
}

// Two done hooks on the runner shut the scheduler down, one with the
// (ended) task's own context, the other with none: neither hangs, and
// every other hook has run once when the outer Shutdown returns.
func TestHostileDoneHooksTwoShutdownsFromHooks(t *testing.T) {
	const n = 16
	counts := newDhCounts()
	var s *scheduler.Scheduler
	returned := make(chan struct{}, 2)
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			counts.add(i)
			switch i {
			case 1:
				_ = s.Shutdown(ctx)
				returned <- struct{}{}
			case 3:
				_ = s.Shutdown(context.Background())
				returned <- struct{}{}
			}
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	cpRecv(t, returned, "a Shutdown called from a done hook")
	cpRecv(t, returned, "the other Shutdown called from a done hook")
	_ = s.Shutdown(bounded(t))
	counts.each(t, n, "done hooks")
	hdPushed(t, s, 2) // tasks 0 and 1: the ends after the first Shutdown run their hooks in place
}

// A done hook on the runner waits for a child scope whose tasks are queued
// behind (Scope.Wait) and for the whole scheduler (Scheduler.Wait): the
// tasks it waits for start without it (I11) and the waits end.
func TestHostileDoneHooksThatWaitForScopes(t *testing.T) {
	const n = 12
	counts := newDhCounts()
	var s *scheduler.Scheduler
	var child *scheduler.Scope
	waitErr := make(chan error, 2)
	s = startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			switch i {
			case 0:
				waitErr <- child.Wait(bounded(t))
			case 1:
				waitErr <- s.Wait(bounded(t))
			}
			counts.add(i)
		},
	}))
	child, err := s.Root().NewScope(scheduler.WithName("child"))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, func(i int) scheduler.Spawner {
		if i > n/2 {
			return child
		}
		return s
	}, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, cpRecv(t, waitErr, "a Wait from a done hook"))
	require.NoError(t, cpRecv(t, waitErr, "a Wait from a done hook"))
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	hdPushed(t, s, 2)
}

// A done callback added from the task's own done hook on the runner runs
// once, before that OnDone returns (the task has ended: on the
// registrant's goroutine), I2.
func TestHostileDoneHooksAddingDoneCallbacks(t *testing.T) {
	const n = 40
	counts := newDhCounts()
	var fromHook [n + 1]atomic.Int32
	var late atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			h.(*lazytask.Task[int]).OnDone(func(int, error) { fromHook[i].Add(1) })
			if fromHook[i].Load() != 1 {
				late.Add(1)
			}
			counts.add(i)
		},
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	for i := 0; i <= n; i++ {
		assert.EqualValues(t, 1, fromHook[i].Load(), "task %d: callback added from its hook", i)
	}
	assert.Zero(t, late.Load(), "callbacks added after the end that had not run when OnDone returned")
	hdPushed(t, s, n)
}

// Done callbacks added by another goroutine while the tasks end, racing
// Release's "no callbacks pending" decision: each runs once (I2), and
// each done hook once, whichever path its task took.
func TestHostileDoneHooksWithCallbacksAddedWhileTasksEnd(t *testing.T) {
	const n = 300
	counts := newDhCounts()
	var cbs [n + 1]atomic.Int32
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { counts.add(hdID(h)) },
	}))
	hs, g := hdQueue(t, s, n, nil, nil)
	added := make(chan struct{})
	go func() {
		defer close(added)
		for i := 0; i <= n; i++ {
			if i == 1 {
				g.open()
			}
			hs[i].OnDone(func(int, error) { cbs[i].Add(1) })
		}
	}()
	cpWithin(t, added, "the callbacks' registration")
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	for i := 0; i <= n; i++ {
		assert.EqualValues(t, 1, cbs[i].Load(), "task %d's done callback", i)
	}
	pushed, handed := scheduler.DoneQueue(s)
	t.Logf("runner: %d pushed, %d hand-overs", pushed, handed)
}

// Shutdown with no grace while the runner has hooks queued and tasks are
// still queued: the queued tasks end Canceled without running, and every
// task's done hook, run or not, has run once when Shutdown returns.
func TestHostileDoneHooksShutdownWithNoGrace(t *testing.T) {
	const n = 60
	counts := newDhCounts()
	tenRan := make(chan struct{})
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i == 0 {
				cpWithin(t, tenRan, "task 10's run")
			}
			counts.add(i)
		},
	}))
	stop := make(chan struct{})
	hs, g := hdQueue(t, s, n, nil, func(i int) func(context.Context) (int, error) {
		if i != 10 {
			return nil
		}
		return func(ctx context.Context) (int, error) {
			close(tenRan)
			<-stop
			return 0, nil
		}
	})
	g.open()
	cpWithin(t, tenRan, "task 10's run")
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(expired) }()
	// Task 10 holds the slot: Shutdown, past its grace, cancels the tasks
	// queued behind it; then task 10 returns.
	cpWithin(t, hs[n].Done(), "the last queued task's cancel")
	close(stop)
	assert.Error(t, cpRecv(t, shut, "Shutdown"))
	counts.each(t, n, "done hooks")
	assert.Equal(t, lazytask.Canceled, hs[n].State())
	hdPushed(t, s, 9)
}

// A done hook on the runner that shuts the scheduler down and then calls
// runtime.Goexit, and one on the last entry that calls runtime.Goexit with
// nothing behind it: the hand-overs run every other hook once, and
// nothing is left once the outer Shutdown returns.
func TestHostileDoneHookShutsDownThenExits(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	const n = 10
	counts := newDhCounts()
	var s *scheduler.Scheduler
	exited := make(chan struct{})
	s, err := scheduler.New(scheduler.WithLogger(quietLogger), scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			counts.add(i)
			switch i {
			case 2:
				_ = s.Shutdown(context.Background())
				defer close(exited)
				runtime.Goexit()
			case n - 1:
				runtime.Goexit()
			}
		},
	}))
	require.NoError(t, err)
	hs, g := hdQueue(t, s, n, nil, nil)
	g.open()
	_ = dhAwaitAll(t, hs)
	cpWithin(t, exited, "task 2's done hook's exit")
	_ = s.Shutdown(bounded(t))
	counts.each(t, n, "done hooks")
	hdPushed(t, s, 3)
	goleak.VerifyNone(t, ignore)
}

// A child scope whose tasks' done hooks wait on the runner is canceled
// (and so released, I12) before they run: each still runs once, with the
// child as its scope, and the queued tasks the cancel ended fire theirs.
func TestHostileDoneHooksOfACanceledChildScope(t *testing.T) {
	const n = 20
	counts := newDhCounts()
	var child *scheduler.Scope
	var bad atomic.Int32
	canceled := make(chan struct{})
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, sc *scheduler.Scope, h lazytask.Handle) {
			i := hdID(h)
			if i > 0 && sc != child {
				bad.Add(1)
			}
			if i == 1 {
				cpWithin(t, canceled, "the child's cancel")
			}
			counts.add(i)
		},
	}))
	child, err := s.Root().NewScope(scheduler.WithName("child"))
	require.NoError(t, err)
	errGone := errors.New("gone")
	hs, g := hdQueue(t, s, n, func(i int) scheduler.Spawner {
		if i == 0 {
			return s
		}
		return child
	}, func(i int) func(context.Context) (int, error) {
		if i != 5 {
			return nil
		}
		return func(context.Context) (int, error) {
			child.Cancel(errGone) // ends the tasks queued behind; hooks 1..4 may still wait
			close(canceled)
			return 5, nil
		}
	})
	g.open()
	_ = dhAwaitAll(t, hs)
	require.NoError(t, s.Shutdown(bounded(t)))
	counts.each(t, n, "done hooks")
	assert.Zero(t, bad.Load(), "hooks that did not get the child as their scope")
	assert.Equal(t, lazytask.Canceled, hs[n].State())
	assert.ErrorIs(t, hs[n].Err(), errGone)
	hdPushed(t, s, 4)
}
