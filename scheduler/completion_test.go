package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Invariant I11: user code that runs after a task's end (done callbacks,
// the supervisor's handler, OnDone hooks) never delays, blocks or shortens
// another task, and a panic or runtime.Goexit in it, or in any other hook,
// is contained. The helpers of this file carry a "cp" prefix; lending_test.go
// and outcome_test.go use them too.

// cpHang bounds every wait that would hang if the behaviour under test were
// broken.
const cpHang = 10 * time.Second

// cpWithin fails the test unless ch is closed (or receives) within cpHang.
// The time.After is a hang guard, not synchronisation.
func cpWithin(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(cpHang):
		t.Fatalf("%s = still waiting after %v; want it done", what, cpHang)
	}
}

// cpAwait awaits h, failing the test if it has not ended within cpHang.
func cpAwait[T any](t *testing.T, h *lazytask.Task[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cpHang)
	defer cancel()
	v, err := h.Await(ctx)
	if ctx.Err() != nil {
		t.Fatalf("task %q: Await = still waiting after %v (state %v); want it ended", h.Name(), cpHang, h.State())
	}
	return v, err
}

// cpSched is scSched with a last-resort cleanup: if the test failed while
// something still waits, the scheduler is shut down with a grace period
// that is already over, so that the cleanup's graceful Shutdown cannot hang
// the test binary. The gates of scNewGate open before either.
func cpSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	s := scSched(t, opts...)
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = s.Shutdown(ctx)
		}
	})
	return s
}

// cpShutdown shuts s down and fails the test unless Shutdown returns
// within cpHang.
func cpShutdown(t *testing.T, s *scheduler.Scheduler, ctx context.Context) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(cpHang):
		t.Fatalf("Shutdown = still waiting after %v; want it returned", cpHang)
		return nil
	}
}

// cpCapOneWithQueued makes a cap-1 scheduler (with opts) whose slot is
// held by A until A's gate opens, and B queued behind A. B closes bRan when
// its function runs.
func cpCapOneWithQueued(t *testing.T, opts ...scheduler.SchedulerOption) (s *scheduler.Scheduler, a, b *lazytask.Task[int], ga *scGate, bRan chan struct{}) {
	t.Helper()
	s = cpSched(t, append([]scheduler.SchedulerOption{scheduler.WithLimit(1)}, opts...)...)
	a, ga = scHold(t, s, lazytask.WithName("A"))
	bRan = make(chan struct{})
	b, err := scheduler.Submit(s, func(context.Context) (int, error) {
		close(bRan)
		return 2, nil
	}, lazytask.WithName("B"))
	require.NoError(t, err, "Submit(B)")
	require.Equal(t, lazytask.Queued, b.State(), "B.State() behind A at cap 1")
	return s, a, b, ga, bRan
}

func TestDoneCallbackThatAwaitsTheNextQueuedTaskReturns(t *testing.T) {
	// Before I11 the goroutine that ended A was handed B, the next queued
	// task, before A's callbacks ran: a callback that awaited B waited for
	// itself.
	s, a, b, ga, _ := cpCapOneWithQueued(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // unblocks the callback if the test fails
	cbDone := make(chan struct{})
	var got int
	var gotErr error
	a.OnDone(func(int, error) {
		got, gotErr = b.Await(ctx)
		close(cbDone)
	})
	ga.open()
	cpWithin(t, cbDone, "A.OnDone(func(){ B.Await(ctx) })")
	assert.NoError(t, gotErr, "B.Await in A's callback: err")
	assert.Equal(t, 2, got, "B.Await in A's callback: value")
	assert.Equal(t, lazytask.Succeeded, b.State(), "B.State()")
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse after Shutdown")
}

func TestSlowDoneCallbackDoesNotDelayTheNextTaskStart(t *testing.T) {
	s, a, b, ga, bRan := cpCapOneWithQueued(t)
	cbStarted, cbRelease := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(cbRelease) }) }
	t.Cleanup(release)
	a.OnDone(func(int, error) {
		close(cbStarted)
		<-cbRelease
	})
	ga.open()
	cpWithin(t, cbStarted, "A's slow callback starting")
	// B must start, and end, while A's callback is still blocked.
	cpWithin(t, bRan, "B starting while A's done callback blocks")
	cpWithin(t, b.Done(), "B ending while A's done callback blocks")
	releasedAt := time.Now()
	release()

	ta, tb := a.Timings(), b.Timings()
	assert.Truef(t, tb.Started.Before(releasedAt), "B.Timings().Started = %v; want before A's callback was released at %v", tb.Started, releasedAt)
	assert.Falsef(t, tb.Started.Before(ta.Finished), "B.Timings().Started = %v; want not before A finished at %v", tb.Started, ta.Finished)
	// B's queue wait ended before A's callback let go.
	assert.Lessf(t, tb.QueueTime(), releasedAt.Sub(tb.Queued),
		"B.Timings().QueueTime() = %v; want less than the time from B's queueing to the callback's release (%v)", tb.QueueTime(), releasedAt.Sub(tb.Queued))
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse once A and B have ended")
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
}

func TestSlowDoneCallbackDoesNotEatTheNextTaskTimeout(t *testing.T) {
	// Under synctest: A's callback holds for 5 s of fake time; B has a 1 s
	// timeout and needs 500 ms. Before I11, B was admitted when A ended but
	// ran after the callback, and its timeout counted from the admission.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(quietLogger), scheduler.WithTimings())
		require.NoError(t, err, "scheduler.New")
		defer func() { _ = s.Shutdown(context.Background()) }()
		ga := &scGate{started: make(chan struct{}), release: make(chan struct{})}
		defer ga.open()
		a, err := scheduler.Submit(s, ga.fn, lazytask.WithName("A"))
		require.NoError(t, err, "Submit(A)")
		<-ga.started
		var bCtxErr error
		b, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			select {
			case <-ctx.Done():
				bCtxErr = ctx.Err()
				return 0, ctx.Err()
			case <-time.After(500 * time.Millisecond):
				return 2, nil
			}
		}, lazytask.WithName("B"), lazytask.WithTimeout(time.Second))
		require.NoError(t, err, "Submit(B)")
		cbRelease := make(chan struct{})
		a.OnDone(func(int, error) { <-cbRelease })
		ga.open()
		time.Sleep(5 * time.Second) // fake time: A's callback holds this long
		bEndedBeforeRelease := b.State().Terminal()
		close(cbRelease)
		v, err := b.Await(context.Background())
		assert.Truef(t, bEndedBeforeRelease, "B.State() while A's callback blocked = not ended; want ended (B needs 500 ms)")
		assert.NoErrorf(t, err, "B.Await: err (B's ctx.Err() = %v)", bCtxErr)
		assert.Equal(t, 2, v, "B.Await: value")
		assert.Equal(t, lazytask.Succeeded, b.State(), "B.State()")
		if d := b.Timings().Started.Sub(a.Timings().Finished); d < 0 || d >= time.Second {
			t.Errorf("B.Timings().Started - A.Timings().Finished = %v; want in [0, 1s): B starts when A ends, not after A's callback", d)
		}
	})
}

func TestUserCodeAfterTheEndThatShutsTheSchedulerDownReturns(t *testing.T) {
	// A done callback, OnDone hook or supervisor handler of A calls
	// s.Shutdown with a context of its own: it must return after B and C
	// ran, and must not wait for its own goroutine (I11).
	for _, site := range []cpSite{cpCallback, cpDoneHook, cpHandler} {
		t.Run(string(site), func(t *testing.T) { cpShutdownFrom(t, site) })
	}
}

func cpShutdownFrom(t *testing.T, site cpSite) {
	var s *scheduler.Scheduler
	cbDone := make(chan struct{})
	var shutErr error
	shut := func(name string) {
		if name == "A" {
			shutErr = s.Shutdown(context.Background())
			close(cbDone)
		}
	}
	opts := []scheduler.SchedulerOption{scheduler.WithLimit(1), scheduler.WithLogger(quietLogger)}
	switch site {
	case cpDoneHook:
		opts = append(opts, scheduler.WithHooks(scheduler.Hooks{OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { shut(h.Options().Name) }}))
	case cpHandler:
		opts = append(opts, scheduler.Supervise(func(info lazytask.Info, _ error) { shut(info.Name) }))
	}
	s, err := scheduler.New(opts...)
	require.NoError(t, err, "scheduler.New")
	ga := scNewGate(t)
	aFn := ga.fn
	if site == cpHandler {
		aFn = func(ctx context.Context) (int, error) {
			_, _ = ga.fn(ctx)
			return 0, scErrA // the handler only sees failures
		}
	}
	a, err := scheduler.Submit(s, aFn, lazytask.WithName("A"))
	require.NoError(t, err, "Submit(A)")
	<-ga.started
	var runs [2]atomic.Int32
	b, err := scheduler.Submit(s, scCount(&runs[0]), lazytask.WithName("B"))
	require.NoError(t, err, "Submit(B)")
	c, err := scheduler.Submit(s, scCount(&runs[1]), lazytask.WithName("C"))
	require.NoError(t, err, "Submit(C)")
	if site == cpCallback {
		a.OnDone(func(int, error) { shut("A") })
	}
	ga.open()
	select {
	case <-cbDone:
	case <-time.After(cpHang):
		// The scheduler cannot be shut down now: its goroutines leak.
		t.Fatalf("s.Shutdown(ctx) in A's %s = still waiting after %v; want it returned (B %v, C %v)", site, cpHang, b.State(), c.State())
	}
	assert.NoErrorf(t, shutErr, "s.Shutdown in A's %s", site)
	require.ErrorIs(t, cpShutdown(t, s, context.Background()), scheduler.ErrClosed, "a second Shutdown")
	for i, h := range []*lazytask.Task[int]{b, c} {
		st := h.State()
		switch st {
		case lazytask.Succeeded:
			assert.Equalf(t, int32(1), runs[i].Load(), "task %s ran %d times; want 1", h.Name(), runs[i].Load())
		case lazytask.Canceled:
			assert.Equalf(t, int32(0), runs[i].Load(), "canceled task %s ran %d times; want 0", h.Name(), runs[i].Load())
		default:
			t.Errorf("task %s: State() = %v; want Succeeded or Canceled", h.Name(), st)
		}
	}
	_, err = scheduler.Submit(s, scCount(&runs[0]))
	assert.ErrorIs(t, err, scheduler.ErrClosed, "Submit after the Shutdown")
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse after Shutdown")
}

// cpSite is where misbehaving user code sits.
type cpSite string

const (
	cpCallback   cpSite = "done callback"
	cpDoneHook   cpSite = "OnDone hook"
	cpStartHook  cpSite = "OnStart hook"
	cpCreateHook cpSite = "OnCreate hook"
	cpQueueHook  cpSite = "OnQueue hook"
	cpHandler    cpSite = "supervisor handler"
)

// cpMode is how it misbehaves.
type cpMode string

const (
	cpGoexit cpMode = "runtime.Goexit"
	cpPanic  cpMode = "panic"
)

// cpCounts counts the calls of each hook (and callback) per task name.
type cpCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *cpCounts) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
}

func (c *cpCounts) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func TestMisbehavingUserCodeIsContained(t *testing.T) {
	// Every piece of user code around a task may panic or call
	// runtime.Goexit: the task is not lost, every other callback and hook
	// still runs exactly once, the slot is freed, the next task runs,
	// Shutdown returns and the misbehaviour is logged.
	sites := []cpSite{cpCallback, cpDoneHook, cpStartHook, cpCreateHook, cpQueueHook, cpHandler}
	for _, mode := range []cpMode{cpGoexit, cpPanic} {
		for _, site := range sites {
			t.Run(fmt.Sprintf("%s in %s", mode, site), func(t *testing.T) { cpMisbehave(t, site, mode) })
		}
	}
}

func cpMisbehave(t *testing.T, site cpSite, mode cpMode) {
	logger, logs := scLogger()
	var counts cpCounts // "<set>/<kind>/<task>"
	misbehave := func() {
		if mode == cpGoexit {
			runtime.Goexit()
		}
		panic("cp misbehaving " + string(site))
	}
	var aHandle atomic.Pointer[lazytask.Handle]
	hooks := func(set string, bad bool) scheduler.Hooks {
		at := func(kind string, which cpSite) func(context.Context, *scheduler.Scope, lazytask.Handle) {
			return func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
				name := h.Options().Name
				counts.add(set + "/" + kind + "/" + name)
				if name == "A" && kind == "create" {
					aHandle.CompareAndSwap(nil, &h)
				}
				if bad && site == which && name == "A" {
					misbehave()
				}
			}
		}
		return scheduler.Hooks{
			OnCreate: at("create", cpCreateHook),
			OnQueue:  at("queue", cpQueueHook),
			OnStart: func(ctx context.Context, sc *scheduler.Scope, h lazytask.Handle) context.Context {
				at("start", cpStartHook)(ctx, sc, h)
				return nil
			},
			OnDone: at("done", cpDoneHook),
		}
	}
	handler := func(info lazytask.Info, err error) {
		counts.add("handler/" + info.Name)
		if site == cpHandler && info.Name == "A" {
			misbehave()
		}
	}
	s := cpSched(t, scheduler.WithLimit(1), scheduler.WithLogger(logger),
		scheduler.WithHooks(hooks("bad", true)), scheduler.WithHooks(hooks("good", false)),
		scheduler.Supervise(handler))

	var aRuns, bRuns atomic.Int32
	aStarted, aRelease := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseA := func() { releaseOnce.Do(func() { close(aRelease) }) }
	t.Cleanup(releaseA)
	aErr := error(nil)
	if site == cpHandler {
		aErr = scErrA // the handler only sees failures
	}
	aFn := func(context.Context) (int, error) {
		aRuns.Add(1)
		close(aStarted)
		<-aRelease
		return 1, aErr
	}
	// The submit of A runs on a goroutine of the test's: a create or queue
	// hook that calls runtime.Goexit ends it.
	var a *lazytask.Task[int]
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		a, _ = scheduler.Submit(s, aFn, lazytask.WithName("A"))
	}()
	cpWithin(t, submitted, "Submit(A)")
	var ah lazytask.Handle
	if p := aHandle.Load(); p != nil {
		ah = *p
	}
	require.NotNil(t, ah, "A's handle as OnCreate saw it")
	submitReturned := a != nil
	if site == cpCreateHook || site == cpQueueHook {
		assert.Equal(t, mode == cpPanic, submitReturned, "Submit(A) returned")
	}

	hookedSubmit := site == cpCreateHook || site == cpQueueHook
	if hookedSubmit {
		// A's submit is what misbehaved: A need not hold the slot.
		releaseA()
	} else {
		cpWithin(t, aStarted, "A's function starting")
	}
	b, err := scheduler.Submit(s, scCount(&bRuns), lazytask.WithName("B"))
	require.NoError(t, err, "Submit(B)")
	var cb [2]atomic.Int32
	if site == cpCallback {
		require.NotNil(t, a, "A's typed handle")
		a.OnDone(func(int, error) {
			cb[0].Add(1)
			misbehave()
		})
		a.OnDone(func(int, error) { cb[1].Add(1) })
	}
	releaseA()
	_, err = cpAwait(t, b)
	require.NoError(t, err, "B.Await: B runs after A")
	if !hookedSubmit {
		cpWithin(t, ah.Done(), "A ending")
	}
	assert.Equal(t, int32(1), bRuns.Load(), "B's function runs")
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	// A task whose OnCreate fired is the scheduler's: after Shutdown it has
	// run or been canceled (I5, I10), so that its OnDone fires and nobody
	// awaiting it hangs.
	require.Truef(t, ah.State().Terminal(), "A.State() after Shutdown = %v; want ended (A's function ran %d times)", ah.State(), aRuns.Load())

	// After Shutdown every goroutine of the scheduler has exited: the
	// counts are final.
	wantA, wantRuns := lazytask.Succeeded, 1
	switch {
	case site == cpHandler:
		wantA = lazytask.Failed
	case hookedSubmit && mode == cpGoexit:
		// A submit cut short ends its task Failed, unrun.
		wantA, wantRuns = lazytask.Failed, 0
		assert.ErrorIs(t, ah.Err(), lazytask.ErrCallbackGoexit, "A.Err()")
	}
	assert.Equal(t, wantA, ah.State(), "A.State()")
	assert.Equal(t, int32(wantRuns), aRuns.Load(), "A's function runs")
	for _, set := range []string{"bad", "good"} {
		for _, kind := range []string{"create", "queue", "start", "done"} {
			for _, name := range []string{"A", "B"} {
				key := set + "/" + kind + "/" + name
				want := 1
				if name == "A" && kind == "start" {
					want = wantRuns
				}
				assert.Equalf(t, want, counts.get(key), "hook %s ran %d times; want %d", key, counts.get(key), want)
			}
		}
	}
	if site == cpHandler {
		assert.Equal(t, 1, counts.get("handler/A"), "handler calls for A")
	}
	if site == cpCallback {
		assert.Equal(t, int32(1), cb[0].Load(), "A's misbehaving callback runs")
		assert.Equal(t, int32(1), cb[1].Load(), "A's callback after the misbehaving one runs")
	}
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "Stats().InUse after Shutdown")
	assert.Equal(t, 0, st.Running, "Stats().Running after Shutdown")
	assert.Equal(t, st.Submitted, st.Succeeded+st.Failed+st.Canceled, "Stats(): Submitted = Succeeded+Failed+Canceled")
	want := "panicked"
	if mode == cpGoexit {
		want = "Goexit"
	}
	out := logs.String()
	assert.Truef(t, strings.Contains(out, want) && strings.Contains(out, "level=ERROR"), "log = %q; want an ERROR saying %q", out, want)
	if mode == cpPanic {
		assert.Containsf(t, out, "cp misbehaving", "log = %q; want the panic value", out)
	}
}

func TestGoexitInDoneCallbackOfTaskWithoutSchedulerRunsTheOtherCallbacks(t *testing.T) {
	// The same containment for a plain lazytask task, no scheduler: the
	// callback after the one that calls runtime.Goexit still runs once.
	release := make(chan struct{})
	h := lazytask.New(func(context.Context) (int, error) {
		<-release
		return 1, nil
	})
	var first, second atomic.Int32
	secondDone := make(chan struct{})
	h.OnDone(func(int, error) {
		first.Add(1)
		runtime.Goexit()
	})
	h.OnDone(func(int, error) {
		second.Add(1)
		close(secondDone)
	})
	require.NoError(t, h.Start(), "Start")
	close(release)
	cpWithin(t, secondDone, "the callback after a Goexit one")
	_, err := cpAwait(t, h)
	require.NoError(t, err, "Await")
	assert.Equal(t, int32(1), first.Load(), "first callback runs")
	assert.Equal(t, int32(1), second.Load(), "second callback runs")
}

func TestGoexitInCallbackOfTaskCanceledByFailFastIsContained(t *testing.T) {
	// A's failure cancels B and C, queued in the same fail-fast scope; their
	// callbacks and done hooks run after A's end. B's callback calls
	// runtime.Goexit: C's callback and every done hook still run once, and
	// the scope's Wait returns A's error.
	var hooks cpCounts
	var reported atomic.Int32 // the fail-fast scope's failure, at the root
	s := cpSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hooks.add(h.Options().Name) },
	}), scheduler.Supervise(func(_ lazytask.Info, err error) {
		if errors.Is(err, scErrA) {
			reported.Add(1)
		}
	}))
	sc := scChild(t, s.Root(), scheduler.FailFast(), scheduler.WithName("ff"))
	ga := scNewGate(t)
	a, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
		_, _ = ga.fn(ctx)
		return 0, scErrA
	}, lazytask.WithName("A"))
	require.NoError(t, err, "Submit(A)")
	<-ga.started
	var runs atomic.Int32
	b, err := scheduler.Submit(sc, scCount(&runs), lazytask.WithName("B"))
	require.NoError(t, err, "Submit(B)")
	c, err := scheduler.Submit(sc, scCount(&runs), lazytask.WithName("C"))
	require.NoError(t, err, "Submit(C)")
	var bCB, cCB atomic.Int32
	b.OnDone(func(int, error) {
		bCB.Add(1)
		runtime.Goexit()
	})
	c.OnDone(func(int, error) { cCB.Add(1) })
	ga.open()
	ctx, cancel := context.WithTimeout(context.Background(), cpHang)
	defer cancel()
	err = sc.Wait(ctx)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "fail-fast scope's Wait = timed out; want A's error")
	assert.ErrorIs(t, err, scErrA, "fail-fast scope's Wait")
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	assert.Equal(t, lazytask.Failed, a.State(), "A.State()")
	assert.Equal(t, lazytask.Canceled, b.State(), "B.State()")
	assert.Equal(t, lazytask.Canceled, c.State(), "C.State()")
	assert.Equal(t, int32(0), runs.Load(), "runs of B and C")
	assert.Equal(t, int32(1), bCB.Load(), "B's callback runs")
	assert.Equal(t, int32(1), cCB.Load(), "C's callback runs (after B's Goexit)")
	for _, name := range []string{"A", "B", "C"} {
		assert.Equalf(t, 1, hooks.get(name), "OnDone hook for %s ran %d times; want 1", name, hooks.get(name))
	}
	assert.Equal(t, int32(1), reported.Load(), "root handler calls with the fail-fast scope's error")
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse after Shutdown")
}

func TestSlowStartHookDoesNotEatTheTaskTimeout(t *testing.T) {
	// I11 says a task's start time and timeout count from when its
	// function starts. Under synctest: B's OnStart hook takes 2 s of fake
	// time, B has a 1 s timeout and needs 500 ms once its function runs.
	synctest.Test(t, func(t *testing.T) {
		hookRelease := make(chan struct{})
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(quietLogger),
			scheduler.WithHooks(scheduler.Hooks{OnStart: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
				if h.Options().Name == "B" {
					<-hookRelease
				}
				return nil
			}}))
		require.NoError(t, err, "scheduler.New")
		defer func() { _ = s.Shutdown(context.Background()) }()
		var fnStarted time.Time
		b, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			fnStarted = time.Now()
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(500 * time.Millisecond):
				return 2, nil
			}
		}, lazytask.WithName("B"), lazytask.WithTimeout(time.Second))
		require.NoError(t, err, "Submit(B)")
		time.Sleep(2 * time.Second) // fake time: the start hook holds this long
		close(hookRelease)
		_, err = b.Await(context.Background())
		assert.NoError(t, err, "B.Await: B's timeout counts from its function's start")
		assert.Equal(t, lazytask.Succeeded, b.State(), "B.State()")
		if d := fnStarted.Sub(b.Timings().Started); d != 0 {
			t.Errorf("B's function started at Timings().Started + %v; want + 0", d)
		}
	})
}

func TestGoexitInCallbackOfTaskCanceledInTheQueueIsContained(t *testing.T) {
	// Scope.Cancel ends three queued tasks; the first one's callback calls
	// runtime.Goexit on the canceler's goroutine (one of the test's). The
	// other tasks' callbacks and every done hook still run once.
	var hooks cpCounts
	s := cpSched(t, scheduler.WithLimit(1), scheduler.WithHooks(scheduler.Hooks{
		OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) { hooks.add(h.Options().Name) },
	}))
	_, g := scHold(t, s, lazytask.WithName("holder"))
	sc := scChild(t, s.Root(), scheduler.WithName("doomed"))
	var runs atomic.Int32
	var cbs cpCounts
	names := []string{"Q1", "Q2", "Q3"}
	for i, name := range names {
		h, err := scheduler.Submit(sc, scCount(&runs), lazytask.WithName(name))
		require.NoErrorf(t, err, "Submit(%s)", name)
		h.OnDone(func(int, error) {
			cbs.add(name)
			if i == 0 {
				runtime.Goexit()
			}
		})
	}
	canceled := make(chan struct{})
	go func() {
		defer close(canceled)
		sc.Cancel(cpErrCancel)
	}()
	cpWithin(t, canceled, "the canceler's goroutine ending")
	g.open()
	require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	assert.Equal(t, int32(0), runs.Load(), "runs of canceled queued tasks")
	for _, name := range names {
		assert.Equalf(t, 1, cbs.get(name), "callback of %s ran %d times; want 1", name, cbs.get(name))
		assert.Equalf(t, 1, hooks.get(name), "OnDone hook for %s ran %d times; want 1", name, hooks.get(name))
	}
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse after Shutdown")
}

var cpErrCancel = errors.New("completion test: canceled")

// When Wait returns, every task it waited for is done, its Done channel
// closed: a task's waiters are woken once the scheduler's lock is let go,
// except when a Wait waits on its scope, whose release comes after them.
func TestWaitReturnsWithEveryHandleDone(t *testing.T) {
	for round := range 200 {
		s := scSched(t, scheduler.WithLimit(2))
		child := scChild(t, s.Root(), scheduler.WithLimit(1))
		var hs []lazytask.Handle
		for i := range 8 {
			sc := s.Root()
			if i%2 == 1 {
				sc = child
			}
			h, err := scheduler.Go(sc, func(context.Context) error { return nil })
			require.NoError(t, err)
			hs = append(hs, h)
		}
		if round%2 == 0 {
			require.NoError(t, child.Wait(bounded(t)))
			for i := 1; i < len(hs); i += 2 {
				select {
				case <-hs[i].Done():
				default:
					t.Fatalf("round %d: the child's Wait returned before task %d's Done was closed", round, i)
				}
			}
		}
		require.NoError(t, s.Wait(bounded(t)))
		for i, h := range hs {
			select {
			case <-h.Done():
			default:
				t.Fatalf("round %d: Wait returned before task %d's Done was closed", round, i)
			}
		}
		require.NoError(t, s.Shutdown(bounded(t)))
	}
}

// The same, with the window between the lock's release and the wake held
// open: a Wait that is waiting when the task ends must not return before
// the task's Done is closed.
func TestWaitReturnsAfterTheWakeEvenWhenItIsLate(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(1))
	gate := make(chan struct{})
	h, err := scheduler.Go(s, func(context.Context) error { <-gate; return nil })
	require.NoError(t, err)
	done := h.Done() // the channel exists before the end: a waiter to wake
	waited := make(chan error, 1)
	returned := make(chan struct{})
	undo := scheduler.SetWakeDelay(func() {
		select {
		case <-returned: // Wait returned with the wake still to come
		case <-time.After(time.Second): // a guard against a hang, not a sync
		}
	})
	defer undo()
	go func() { waited <- s.Wait(context.Background()) }()
	scheduler.AwaitWaiting(s.Root())
	close(gate)
	require.NoError(t, <-waited)
	select {
	case <-done:
	default:
		t.Fatal("Wait returned before the task's Done was closed")
	}
	close(returned)
	require.NoError(t, s.Shutdown(bounded(t)))
}

// holdWake makes the end of the next task that someone waits on hold the
// window between the scheduler's unlock and the close of its Done open:
// inWindow is closed once it is open, and it stays open until the test
// closes checked (the 5 s are a guard against a hang, not a sync).
func holdWake(t *testing.T) (inWindow <-chan struct{}, checked chan struct{}) {
	in := make(chan struct{})
	chk := make(chan struct{})
	var once sync.Once
	undo := scheduler.SetWakeDelay(func() {
		first := false
		once.Do(func() { first = true; close(in) })
		if first {
			select {
			case <-chk:
			case <-time.After(5 * time.Second):
			}
		}
	})
	t.Cleanup(undo)
	return in, chk
}

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A task that the end of A admits finds A done, the channel Done gave
// before the end included, whichever goroutine it runs on.
func TestATaskAdmittedByAnEndFindsItDone(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	gate := make(chan struct{})
	a, err := scheduler.Go(s, func(context.Context) error { <-gate; return nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	aDone := a.Done()
	saw := make(chan bool, 2)
	for range 2 {
		_, err := scheduler.Go(s, func(context.Context) error { saw <- isClosed(aDone); return nil })
		require.NoError(t, err)
	}
	inWindow, checked := holdWake(t)
	close(gate)
	var got []bool
	select {
	case <-inWindow: // A's Done is closed late: the tasks must not run before
	case v := <-saw: // it was closed before they started
		got = append(got, v)
	}
	close(checked)
	for len(got) < 2 {
		got = append(got, <-saw)
	}
	for i, v := range got {
		assert.True(t, v, "task %d admitted by A's end found A's Done open", i)
	}
	require.NoError(t, s.Wait(bounded(t)))
}

// A scope shut down from inside its last task is released when that task
// ends; whoever sees the scope's context end finds the task done.
func TestAReleasedScopesContextEndsAfterItsLastTaskIsDone(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	child := scChild(t, s.Root())
	release := make(chan struct{})
	shut := make(chan struct{})
	h, err := scheduler.Go(child, func(ctx context.Context) error {
		_ = child.Shutdown(ctx) // from inside: released when this task ends
		close(shut)
		<-release
		return nil
	})
	require.NoError(t, err)
	done := h.Done()
	<-shut
	_, checked := holdWake(t)
	seen := make(chan bool, 1)
	go func() { <-child.Context().Done(); seen <- isClosed(done) }()
	close(release)
	assert.True(t, <-seen, "the released scope's context ended while its last task's Done was open")
	close(checked)
	require.NoError(t, s.Wait(bounded(t)))
}
