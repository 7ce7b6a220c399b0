package scheduler_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Ports of the guarantees of sourcegraph/conc's pool and alitto/pond v2's
// Pool onto the scheduler, plus hostile zero values and re-entrant uses.

// hoGuard fails the test if ch is not closed within a generous time.
func hoGuard(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still waiting after 20s", what)
	}
}

var errHoSentinel = errors.New("ho: sentinel")

//go:noinline
func hoPanicsHere(v any) { panic(v) }

// conc: a panic in a pool's task reaches Wait with its value and the
// stack of the panicking goroutine. Here it reaches Await and a fail-fast
// scope's Wait as a *lazytask.PanicError.
func TestPeersPanicValueAndStackReachAwaitAndFailFastWait(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	ff, err := s.Root().NewScope(scheduler.FailFast())
	require.NoError(t, err)

	h, err := scheduler.Submit(ff, func(ctx context.Context) (int, error) {
		hoPanicsHere(errHoSentinel)
		return 1, nil
	})
	require.NoError(t, err)
	_, err = h.Await(bg)
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe, "Await of a panicking task")
	assert.Equal(t, errHoSentinel, pe.Value, "PanicError.Value")
	assert.ErrorIs(t, err, errHoSentinel, "a panic with an error value unwraps to it")
	assert.Contains(t, string(pe.Stack), "hoPanicsHere", "the stack names the panicking function")
	assert.Contains(t, pe.Frame(), "hoPanicsHere", "Frame")
	assert.Equal(t, lazytask.Failed, h.State())

	werr := ff.Wait(bg)
	var wpe *lazytask.PanicError
	require.ErrorAs(t, werr, &wpe, "fail-fast Wait after a panic = %v", werr)
	assert.Same(t, pe, wpe, "Wait carries the task's own PanicError")

	// panic(nil) is a panic too (Go 1.21+: *runtime.PanicNilError).
	n, err := scheduler.Go(s, func(ctx context.Context) error { hoPanicsHere(nil); return nil })
	require.NoError(t, err)
	err = n.Wait(bg)
	require.ErrorAs(t, err, &pe, "panic(nil)")
	var pne *runtime.PanicNilError
	assert.ErrorAs(t, err, &pne, "panic(nil) value")
}

// conc WithCancelOnError / pond group first error: the first error cancels
// the siblings' context with that error as the cause, queued siblings never
// run, and Wait reports the error once, not the cancellations.
func TestPeersFailFastFirstErrorIsTheCauseAndOnlyError(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	ff, err := s.Root().NewScope(scheduler.FailFast())
	require.NoError(t, err)
	started := make(chan struct{})
	var seen error
	sib, err := scheduler.Go(ff, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		seen = context.Cause(ctx)
		return ctx.Err()
	})
	require.NoError(t, err)
	<-started
	release := make(chan struct{})
	failer, err := scheduler.Go(ff, func(ctx context.Context) error { <-release; return errHoSentinel })
	require.NoError(t, err)
	var ran atomic.Int32
	queued := make([]*lazytask.Task[struct{}], 5)
	for i := range queued {
		queued[i], err = scheduler.Go(ff, func(ctx context.Context) error { ran.Add(1); return nil })
		require.NoError(t, err)
	}
	close(release)
	werr := ff.Wait(bg)
	require.ErrorIs(t, werr, errHoSentinel)
	assert.NotErrorIs(t, werr, context.Canceled, "ff.Wait() = %v; want only the real error", werr)
	assert.Equal(t, errHoSentinel, seen, "context.Cause in the running sibling")
	assert.ErrorIs(t, failer.Err(), errHoSentinel)
	_ = sib.Wait(bg)
	assert.Equal(t, int32(0), ran.Load(), "queued siblings ran after the first error")
	for i, q := range queued {
		assert.Equal(t, lazytask.Canceled, q.State(), "queued[%d]", i)
		assert.ErrorIs(t, q.Err(), errHoSentinel, "queued[%d].Err() carries the cause", i)
	}
	statsAddUp(t, s.Stats(), "after fail-fast")
}

// pond: Stop, then submit: ErrPoolStopped. Here every way in after
// Shutdown says ErrClosed and leaves the counters adding up.
func TestPeersEveryWayInAfterShutdownIsClosed(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(4))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	lazyBefore := scheduler.NewTask(sc, func(ctx context.Context) (int, error) { return 1, nil })
	require.NoError(t, s.Shutdown(bg))
	assert.ErrorIs(t, lazyBefore.Err(), lazytask.ErrScopeClosed, "lazy task of a closed scope")

	fn := func(ctx context.Context) (int, error) { return 1, nil }
	for _, sp := range []scheduler.Spawner{s, sc} {
		h, err := scheduler.Submit(sp, fn)
		require.ErrorIs(t, err, scheduler.ErrClosed, "Submit after Shutdown")
		assert.True(t, h.Info().Rejected, "Submit's handle is Rejected")
		_, err = scheduler.Go(sp, func(ctx context.Context) error { return nil })
		require.ErrorIs(t, err, scheduler.ErrClosed, "Go after Shutdown")
		h, err = scheduler.SubmitWait(bg, sp, fn)
		require.ErrorIs(t, err, scheduler.ErrClosed, "SubmitWait after Shutdown")
		require.NotNil(t, h)
		nt := scheduler.NewTask(sp, fn)
		assert.Equal(t, lazytask.Canceled, nt.State(), "NewTask after Shutdown")
		assert.ErrorIs(t, nt.Err(), scheduler.ErrClosed, "NewTask after Shutdown")
	}
	l := lazytask.New(fn)
	require.ErrorIs(t, s.Enqueue(l), scheduler.ErrClosed)
	require.ErrorIs(t, sc.Enqueue(l), scheduler.ErrClosed)
	require.Error(t, s.Force(l), "Force after Shutdown")
	assert.Equal(t, lazytask.Lazy, l.State(), "a refused lazytask.New task is left as it was")
	require.ErrorIs(t, s.Shutdown(bg), scheduler.ErrClosed, "a second Shutdown (documented)")
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	statsAddUp(t, st, "after shutdown")
	assert.Equal(t, 0, st.Lazy)
	assert.Equal(t, 0, st.InUse)
}

// pond's metrics (SubmittedTasks, SuccessfulTasks, FailedTasks,
// CompletedTasks, WaitingTasks, RunningWorkers) against Stats after a mix of
// successes, errors, panics, Goexits, cancels, rejects, lazies and
// timeouts: every kind lands in exactly one counter.
func TestPeersStatsCountEachKindOnceAfterAMix(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(20))
	_, g := hold(t, s)
	var hs []lazytask.Handle
	add := func(h lazytask.Handle, err error) {
		t.Helper()
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for range 3 {
		add(scheduler.Go(s, func(ctx context.Context) error { return nil }))
	}
	for range 2 {
		add(scheduler.Go(s, func(ctx context.Context) error { return errHoSentinel }))
	}
	for range 2 {
		add(scheduler.Go(s, func(ctx context.Context) error { panic("boom") }))
	}
	add(scheduler.Go(s, func(ctx context.Context) error { runtime.Goexit(); return nil }))
	add(scheduler.Go(s, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, lazytask.WithTimeout(time.Millisecond)))
	var cancels []*lazytask.Task[struct{}]
	for range 4 {
		h, err := scheduler.Go(s, func(ctx context.Context) error { return nil })
		require.NoError(t, err)
		cancels = append(cancels, h)
	}
	// Rejected: bad weight, nil func, a canceled scope.
	_, err := scheduler.Go(s, func(ctx context.Context) error { return nil }, lazytask.WithWeight(2))
	require.ErrorIs(t, err, scheduler.ErrWeightTooLarge)
	_, err = scheduler.Go(s, nil)
	require.Error(t, err)
	dead, err := s.Root().NewScope()
	require.NoError(t, err)
	dead.Cancel(nil)
	_, err = scheduler.Go(dead, func(ctx context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	// Fill the queue to its limit and one past it.
	st := s.Stats()
	for range 20 - st.Queued {
		add(scheduler.Go(s, func(ctx context.Context) error { return nil }))
	}
	_, err = scheduler.Go(s, func(ctx context.Context) error { return nil })
	require.ErrorIs(t, err, scheduler.ErrQueueFull)
	// Lazy ones: one left lazy, one canceled while lazy, one started by hand.
	leftLazy := scheduler.NewTask(s, func(ctx context.Context) (int, error) { return 0, nil })
	cl := scheduler.NewTask(s, func(ctx context.Context) (int, error) { return 0, nil })
	require.True(t, cl.Cancel(nil))
	started := scheduler.NewTask(s, func(ctx context.Context) (int, error) { return 0, errHoSentinel })
	require.NoError(t, started.Start())
	_, _ = started.Await(bg)
	for _, h := range cancels {
		require.True(t, h.Cancel(nil))
	}
	statsAddUp(t, s.Stats(), "before the gate opens")
	g.open()
	for _, h := range hs {
		<-h.Done()
	}
	require.NoError(t, s.Wait(bg))
	st = s.Stats()
	statsAddUp(t, st, "idle")
	assert.Equal(t, 1, st.Lazy, "Stats().Lazy")
	assert.Equal(t, 0, st.Queued)
	assert.Equal(t, 0, st.Running)
	assert.Equal(t, 0, st.InUse)
	assert.Equal(t, uint64(4), st.Rejected, "Stats().Rejected (weight, nil func, canceled scope, queue full)")
	assert.Equal(t, uint64(5), st.Canceled, "Stats().Canceled (4 queued + 1 lazy)")
	// failed: 2 errors + 2 panics + 1 Goexit + 1 timeout + the hand-started lazy
	assert.Equal(t, uint64(7), st.Failed, "Stats().Failed")
	fill := len(hs) - 9
	assert.Equal(t, uint64(1+3+fill), st.Succeeded, "Stats().Succeeded (holder + 3 + the fill)")
	assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns (the hand-started lazy task)")
	_ = leftLazy
	require.NoError(t, s.Shutdown(bg))
	st = s.Stats()
	statsAddUp(t, st, "after shutdown")
	assert.Equal(t, 0, st.Lazy)
	assert.Equal(t, uint64(6), st.Canceled, "the left-lazy task is canceled by Shutdown")
}

// conc's pool at max goroutines 1, a task that submits to its own pool and
// waits: deadlock (#88). Here a chain of tasks, each awaiting a child in its
// own scope at cap 1, completes, and the cap holds for running code.
func TestPeersReentrantChainAtCapOneCompletes(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	var cur, peak atomic.Int32
	enter := func() {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	var step func(ctx context.Context, depth int) (int, error)
	step = func(ctx context.Context, depth int) (int, error) {
		enter()
		defer cur.Add(-1)
		if depth == 0 {
			return 0, nil
		}
		child, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) { return step(ctx, depth-1) })
		if err != nil {
			return 0, err
		}
		cur.Add(-1) // lending while awaiting
		v, err := child.Await(ctx)
		enter()
		return v + 1, err
	}
	done := make(chan struct{})
	var v int
	go func() {
		defer close(done)
		h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) { return step(ctx, 6) })
		if err == nil {
			v, err = h.Await(bg)
		}
		assert.NoError(t, err)
	}()
	hoGuard(t, done, "re-entrant chain at cap 1")
	assert.Equal(t, 6, v)
	assert.Equal(t, int32(1), peak.Load(), "tasks running their own code at once at cap 1")
	statsAddUp(t, s.Stats(), "after the chain")
}

// Wait called from inside a task at cap 1 waits for the others (queued
// behind the caller) and not for itself.
func TestPeersWaitFromInsideATaskAtCapOne(t *testing.T) {
	for _, kind := range []string{"scheduler", "scope", "failfast"} {
		t.Run(kind, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(1))
			var sp scheduler.Spawner = s
			wait := s.Wait
			if kind != "scheduler" {
				opts := []scheduler.Option{scheduler.WithLimit(1)}
				if kind == "failfast" {
					opts = append(opts, scheduler.FailFast())
				}
				sc, err := s.Root().NewScope(opts...)
				require.NoError(t, err)
				sp, wait = sc, sc.Wait
			}
			var ran atomic.Int32
			h, err := scheduler.Submit(sp, func(ctx context.Context) (int32, error) {
				for range 5 {
					if _, err := scheduler.Go(sp, func(ctx context.Context) error { ran.Add(1); return nil }); err != nil {
						return 0, err
					}
				}
				if err := wait(ctx); err != nil {
					return 0, err
				}
				return ran.Load(), nil
			})
			require.NoError(t, err)
			done := make(chan struct{})
			go func() { defer close(done); _, _ = h.Await(bg) }()
			hoGuard(t, done, "Wait from inside a task")
			v, err := h.Result()
			require.NoError(t, err)
			assert.Equal(t, int32(5), v, "tasks that ran before the inner Wait returned")
			require.NoError(t, wait(bg))
		})
	}
}

// A done callback that submits to the same cap-1 scheduler and awaits the
// result, while other tasks are queued: it neither deadlocks nor delays
// the queued tasks (I11).
func TestPeersDoneCallbackSubmitsAndAwaitsAtCapOne(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	first, g := hold(t, s)
	var queued []*lazytask.Task[int]
	for i := range 5 {
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return i, nil })
		require.NoError(t, err)
		queued = append(queued, h)
	}
	cbDone := make(chan struct{})
	var cbV int
	var cbErr error
	first.OnDone(func(int, error) {
		defer close(cbDone)
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return 42, nil })
		if err != nil {
			cbErr = err
			return
		}
		cbV, cbErr = h.Await(bg)
	})
	g.open()
	hoGuard(t, cbDone, "done callback awaiting a task at cap 1")
	require.NoError(t, cbErr)
	assert.Equal(t, 42, cbV)
	for i, h := range queued {
		v, err := h.Await(bg)
		require.NoError(t, err)
		assert.Equal(t, i, v)
	}
	require.NoError(t, s.Wait(bg))
	statsAddUp(t, s.Stats(), "after the callback")
}

// Zero values: a zero Scheduler or Scope given as a Spawner is refused with
// ErrNilScope by every function that takes one, never a panic or a hang;
// its methods panic with the documented message.
func TestPeersZeroSchedulerAndScope(t *testing.T) {
	var s scheduler.Scheduler
	var sc scheduler.Scope
	fn := func(ctx context.Context) (int, error) { return 1, nil }
	for name, sp := range map[string]scheduler.Spawner{"zero Scheduler": &s, "zero Scope": &sc, "nil": nil} {
		h, err := scheduler.Submit(sp, fn)
		require.ErrorIs(t, err, scheduler.ErrNilScope, "Submit(%s)", name)
		require.NotNil(t, h)
		_, err = scheduler.Go(sp, func(ctx context.Context) error { return nil })
		require.ErrorIs(t, err, scheduler.ErrNilScope, "Go(%s)", name)
		_, err = scheduler.SubmitWait(bg, sp, fn)
		require.ErrorIs(t, err, scheduler.ErrNilScope, "SubmitWait(%s)", name)
		nt := scheduler.NewTask(sp, fn)
		require.NotNil(t, nt)
		assert.Equal(t, lazytask.Failed, nt.State(), "NewTask(%s).State()", name)
		assert.ErrorIs(t, nt.Err(), scheduler.ErrNilScope, "NewTask(%s).Err()", name)
		assert.Error(t, nt.Start(), "Start of a failed task")
	}
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scheduler (make one with New)", func() { s.Stats() })
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scheduler (make one with New)", func() { _ = s.Wait(bg) })
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scope (make one with Scope.NewScope)", func() { _ = sc.Wait(bg) })
	assert.PanicsWithValue(t, "scheduler: method called on a zero Scope (make one with Scope.NewScope)", func() { _ = sc.Enqueue(lazytask.New(fn)) })
}

// pond's Resize under load: raising the cap admits waiting tasks at once,
// lowering it admits none until the running ones are below it; the peak
// never passes the cap in force.
func TestPeersResizeUnderLoad(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	var mu sync.Mutex
	var cur, peak int
	capNow := 2
	release := make(chan struct{})
	startedCh := make(chan struct{}, 100)
	var hs []*lazytask.Task[struct{}]
	for range 40 {
		h, err := scheduler.Go(s, func(ctx context.Context) error {
			mu.Lock()
			cur++
			if cur > capNow {
				peak = max(peak, cur)
			}
			mu.Unlock()
			startedCh <- struct{}{}
			<-release
			mu.Lock()
			cur--
			mu.Unlock()
			return nil
		})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for range 2 {
		<-startedCh
	}
	mu.Lock()
	capNow = 6
	mu.Unlock()
	require.NoError(t, s.Resize(6))
	for range 4 {
		<-startedCh // admitted at once: nobody ended
	}
	st := s.Stats()
	assert.Equal(t, 6, st.Running, "Running after Resize(6)")
	assert.Equal(t, 34, st.Queued, "Queued after Resize(6)")
	mu.Lock()
	require.NoError(t, s.Resize(3))
	capNow = 3
	mu.Unlock()
	// The six running go on; none starts while three or more run.
	close(release)
	for _, h := range hs {
		require.NoError(t, h.Wait(bg))
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 0, peak, "a task was admitted over the cap in force (peak %d)", peak)
}
