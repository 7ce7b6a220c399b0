package scheduler_test

import (
	"context"
	"errors"
	"runtime"
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

// Structured-concurrency tests ported from Trio, asyncio and Kotlin
// coroutines suites (prefix hm).

var (
	hmErrD     = errors.New("hm: D failed")
	hmCause    = errors.New("hm: canceled from the middle")
	hmErrClean = errors.New("hm: cleanup failed")
)

// TestHMDeepScopesCanceledFromTheMiddle: Trio cancel scopes nested five
// deep, the middle one canceled. Below it everything sees the cause and
// queued work never runs; above it nothing is touched, the cancellation is
// no error of any fail-fast scope, and the canceled subtree is released.
func TestHMDeepScopesCanceledFromTheMiddle(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(8))
	a := hsScope(t, s.Root(), scheduler.WithName("A"), scheduler.FailFast())
	b := hsScope(t, a, scheduler.WithName("B"), scheduler.FailFast())
	c := hsScope(t, b, scheduler.WithName("C"), scheduler.FailFast())
	d := hsScope(t, c, scheduler.WithName("D"), scheduler.FailFast(), scheduler.WithLimit(1))

	aGate := hsNewGate(t)
	ah, err := scheduler.Submit(a, aGate.fn)
	require.NoError(t, err)
	hsWithin(t, aGate.started, "A's task")

	var seen []<-chan hsSeen
	var hs []*lazytask.Task[int]
	for _, sc := range []*scheduler.Scope{b, c, d} {
		started := make(chan struct{})
		ch := make(chan hsSeen, 1)
		h, err := scheduler.Submit(sc, hsUntilDone(started, ch, hsRetErr))
		require.NoError(t, err)
		hsWithin(t, started, sc.Name())
		seen = append(seen, ch)
		hs = append(hs, h)
	}
	var runs atomic.Int32
	queued, err := scheduler.Submit(d, scCount(&runs))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, queued.State())
	lazy := scheduler.NewTask(c, scCount(&runs))

	b.Cancel(hmCause)

	for i, h := range hs {
		_, err := hsAwait(t, h)
		assert.ErrorIs(t, err, hmCause, "task %d", i)
		assert.Equal(t, lazytask.Canceled, h.State(), "task %d", i)
		got := <-seen[i]
		assert.ErrorIs(t, got.err, context.Canceled, "ctx.Err of task %d", i)
		assert.ErrorIs(t, got.cause, hmCause, "context.Cause of task %d", i)
	}
	_, err = hsAwait(t, queued)
	assert.ErrorIs(t, err, hmCause)
	assert.Equal(t, lazytask.Canceled, queued.State())
	_, err = hsAwait(t, lazy)
	assert.ErrorIs(t, err, hmCause, "a lazy task bound below the canceled scope")
	assert.Zero(t, runs.Load(), "nothing queued or lazy below the cancel ran")

	for _, sc := range []*scheduler.Scope{b, c, d} {
		_, err := scheduler.Submit(sc, scCount(&runs))
		assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit to %s", sc.Name())
		assert.ErrorIs(t, err, hmCause, "Submit to %s wraps the cause", sc.Name())
		_, err = sc.NewScope()
		assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "NewScope under %s", sc.Name())
		assert.NoError(t, hsWait(t, sc), "Wait of %s: a cancellation is no error", sc.Name())
		assert.ErrorIs(t, context.Cause(sc.Context()), hmCause, "%s's context", sc.Name())
	}

	// Above: untouched.
	assert.NoError(t, a.Context().Err(), "A is not canceled")
	assert.Equal(t, lazytask.Running, ah.State())
	more, err := scheduler.Submit(a, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err, "A still takes work")
	v, err := hsAwait(t, more)
	assert.NoError(t, err)
	assert.Equal(t, 7, v)
	aGate.open()
	assert.NoError(t, hsWait(t, a), "A's Wait: the cancel below it is no failure")
	assert.Empty(t, a.Snapshot().Children, "B's subtree is released from A once its tasks ended")
	st := a.Stats()
	assert.EqualValues(t, 2, st.Succeeded, "A's subtree succeeded")
	assert.EqualValues(t, 5, st.Canceled, "A's subtree canceled (3 running, 1 queued, 1 lazy)")
	assert.EqualValues(t, 0, st.Failed)
}

// TestHMErrorBelowACanceledMiddleStillReachesTheTop: Trio: an exception
// raised inside a canceled cancel scope still propagates through every
// enclosing nursery. Here a real error returned in D after B was canceled
// fails D, reaches C, B and A each as one ScopeError, and A (fail-fast)
// cancels its own other tasks with that error.
func TestHMErrorBelowACanceledMiddleStillReachesTheTop(t *testing.T) {
	s := hsSched(t, scheduler.WithLimit(8))
	a := hsScope(t, s.Root(), scheduler.WithName("A"), scheduler.FailFast())
	b := hsScope(t, a, scheduler.WithName("B"), scheduler.FailFast())
	c := hsScope(t, b, scheduler.WithName("C"), scheduler.FailFast())
	d := hsScope(t, c, scheduler.WithName("D"), scheduler.FailFast())

	aStarted := make(chan struct{})
	aSeen := make(chan hsSeen, 1)
	ah, err := scheduler.Submit(a, hsUntilDone(aStarted, aSeen, hsRetErr))
	require.NoError(t, err)
	dStarted := make(chan struct{})
	dh, err := scheduler.Submit(d, hsUntilDone(dStarted, nil, func(context.Context) error { return hmErrD }))
	require.NoError(t, err)
	hsWithin(t, aStarted, "A's task")
	hsWithin(t, dStarted, "D's task")

	b.Cancel(hmCause)
	_, err = hsAwait(t, dh)
	assert.ErrorIs(t, err, hmErrD)
	assert.Equal(t, lazytask.Failed, dh.State())

	_, err = hsAwait(t, ah)
	assert.Equal(t, lazytask.Canceled, ah.State(), "A's sibling task is canceled by the failure")
	got := <-aSeen
	var se *scheduler.ScopeError
	require.ErrorAs(t, got.cause, &se, "A's task sees the failure as its cause")
	assert.ErrorIs(t, got.cause, hmErrD)

	dw := hsWait(t, d)
	assert.ErrorIs(t, dw, hmErrD)
	assert.Len(t, hsJoined(dw), 1)
	for _, sc := range []*scheduler.Scope{c, b, a} {
		werr := hsWait(t, sc)
		assert.ErrorIs(t, werr, hmErrD, "Wait of %s", sc.Name())
		assert.Len(t, hsJoined(werr), 1, "Wait of %s = %v", sc.Name(), werr)
		assert.NotErrorIs(t, werr, hmCause, "Wait of %s reports the cancel cause", sc.Name())
	}
}

// TestHMSpawnTreeUnderShutdownLosesNothing: asyncio TaskGroup / Trio
// nursery whose children spawn children while it closes. Every spawn is
// either refused with ErrClosed or ends terminal before Shutdown returns;
// nothing is left running and no spawn error is anything else.
func TestHMSpawnTreeUnderShutdownLosesNothing(t *testing.T) {
	for _, grace := range []string{"graceful", "expired"} {
		t.Run(grace, func(t *testing.T) {
			s := hsSched(t, scheduler.WithLimit(3))
			sc := hsScope(t, s.Root(), scheduler.WithName("tree"))
			kids := []*scheduler.Scope{
				hsScope(t, sc, scheduler.WithName("k1"), scheduler.WithLimit(2)),
				hsScope(t, sc, scheduler.WithName("k2")),
			}
			var mu sync.Mutex
			var accepted []*lazytask.Task[int]
			var refused, other atomic.Int32
			var spawned atomic.Int32
			shutStarted, busy := make(chan struct{}), make(chan struct{})
			var body func(depth int) func(ctx context.Context) (int, error)
			spawn := func(target *scheduler.Scope, depth int) {
				h, err := scheduler.Submit(target, body(depth))
				switch {
				case err == nil:
					mu.Lock()
					accepted = append(accepted, h)
					mu.Unlock()
				case errors.Is(err, scheduler.ErrClosed):
					refused.Add(1)
				default:
					t.Errorf("spawn: unexpected error %v", err)
					other.Add(1)
				}
			}
			body = func(depth int) func(ctx context.Context) (int, error) {
				return func(ctx context.Context) (int, error) {
					n := spawned.Add(1)
					if n == 40 {
						close(busy)
						<-shutStarted
					}
					if depth >= 12 || n > 1500 {
						return depth, nil
					}
					for i := range 2 {
						spawn(kids[(depth+i)%2], depth+1)
					}
					if n, err := sc.NewScope(); err == nil {
						spawn(n, depth+1)
						_ = n.Shutdown(ctx)
					} else if !errors.Is(err, scheduler.ErrClosed) {
						t.Errorf("NewScope: %v", err)
					}
					return depth, ctx.Err()
				}
			}
			spawn(sc, 0)
			hsWithin(t, busy, "the 40th spawn")
			ctx := context.Background()
			if grace == "expired" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- sc.Shutdown(ctx) }()
			// Let the parked task go only once Shutdown has closed the scope.
			for {
				if _, err := sc.NewScope(); errors.Is(err, scheduler.ErrClosed) {
					break
				}
				runtime.Gosched()
			}
			close(shutStarted)
			select {
			case <-done:
			case <-time.After(hsHang):
				t.Fatal("Shutdown hung")
			}
			mu.Lock()
			defer mu.Unlock()
			for i, h := range accepted {
				st := h.State()
				if st != lazytask.Succeeded && st != lazytask.Canceled && st != lazytask.Failed {
					t.Errorf("task %d of %d is %v after Shutdown", i, len(accepted), st)
				}
			}
			assert.Zero(t, other.Load())
			assert.Positive(t, refused.Load(), "some spawn came after the close")
			stt := sc.Stats()
			assert.Zero(t, stt.Running+stt.Queued, "left after Shutdown: %+v", stt)
		})
	}
}

// TestHMNestedTimeoutsTheTighterWins: Trio nested move_on_after: the
// outer, shorter deadline cancels the inner scope's tasks, running ones
// with DeadlineExceeded as their cause and queued ones before they start;
// the inner scope's context reports the outer deadline.
func TestHMNestedTimeoutsTheTighterWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		began := time.Now()
		outer, err := s.Root().NewScope(scheduler.WithName("outer"), scheduler.WithTimeout(2*time.Second))
		require.NoError(t, err)
		inner, err := outer.NewScope(scheduler.WithName("inner"), scheduler.FailFast(), scheduler.WithTimeout(time.Hour), scheduler.WithLimit(1))
		require.NoError(t, err)
		dl, ok := inner.Context().Deadline()
		require.True(t, ok)
		assert.True(t, began.Add(2*time.Second).Equal(dl), "the inner scope's deadline is the outer's: %v", dl)
		seen := make(chan hsSeen, 1)
		r, err := scheduler.Submit(inner, hsUntilDone(nil, seen, hsRetErr))
		require.NoError(t, err)
		var runs atomic.Int32
		q, err := scheduler.Submit(inner, scCount(&runs))
		require.NoError(t, err)
		_, err = r.Await(context.Background())
		assert.Equal(t, 2*time.Second, time.Since(began))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Canceled, r.State(), "the outer timeout is a cancellation of the inner task")
		got := <-seen
		assert.ErrorIs(t, got.cause, context.DeadlineExceeded)
		_, err = q.Await(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Canceled, q.State())
		assert.Zero(t, runs.Load())
		assert.NoError(t, inner.Wait(context.Background()))
	})
}

// TestHMScopeTimeoutEndsQueuedTasksAtTheDeadlineNotWhenASlotFrees: asyncio
// timeout / Kotlin withTimeout: a task queued behind a full cap in a
// timed-out scope ends at the deadline, not when some other scope's task
// lets a slot go.
func TestHMScopeTimeoutEndsQueuedTasksAtTheDeadlineNotWhenASlotFrees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		g := hsNewGateNoT()
		defer g.open()
		holder, err := scheduler.Submit(s.Root(), g.fn)
		require.NoError(t, err)
		<-g.started
		began := time.Now()
		timed, err := s.Root().NewScope(scheduler.WithTimeout(time.Second), scheduler.FailFast())
		require.NoError(t, err)
		child, err := timed.NewScope()
		require.NoError(t, err)
		var runs atomic.Int32
		q1, err := scheduler.Submit(timed, scCount(&runs))
		require.NoError(t, err)
		q2, err := scheduler.Submit(child, scCount(&runs))
		require.NoError(t, err)
		for _, q := range []*lazytask.Task[int]{q1, q2} {
			_, err = q.Await(context.Background())
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, lazytask.Canceled, q.State())
		}
		assert.Equal(t, time.Second, time.Since(began), "the queued tasks end at the scope's deadline")
		assert.Equal(t, lazytask.Running, holder.State())
		assert.NoError(t, timed.Wait(context.Background()))
		g.open()
		_, err = holder.Await(context.Background())
		assert.NoError(t, err)
		assert.Zero(t, runs.Load())
	})
}

// TestHMQueuedTaskDeadlineFailsTheGroup: Kotlin withTimeout around a child
// that never got to run: lazytask.WithDeadline documents that a task still
// queued at its deadline ends Failed with DeadlineExceeded without running,
// and that its scope's policy sees it: a fail-fast group is canceled.
func TestHMQueuedTaskDeadlineFailsTheGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		seen := make(chan hsSeen, 1)
		began := time.Now()
		started := make(chan struct{})
		r, err := scheduler.Submit(sc, hsUntilDone(started, seen, hsRetErr))
		require.NoError(t, err)
		<-started
		var runs atomic.Int32
		q, err := scheduler.Submit(sc, scCount(&runs), lazytask.WithDeadline(began.Add(time.Second)))
		require.NoError(t, err)
		_, err = q.Await(context.Background())
		assert.Equal(t, time.Second, time.Since(began))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Failed, q.State())
		assert.Zero(t, runs.Load())
		_, err = r.Await(context.Background())
		assert.Equal(t, lazytask.Canceled, r.State(), "the failure cancels the running sibling")
		got := <-seen
		assert.ErrorIs(t, got.cause, context.DeadlineExceeded)
		werr := sc.Wait(context.Background())
		assert.ErrorIs(t, werr, context.DeadlineExceeded)
		assert.Len(t, hsJoined(werr), 1, "Wait = %v", werr)
	})
}

// TestHMBaseContextCancelEndsLazyTasksBoundBelow: Kotlin LAZY children of
// a canceled parent job complete as canceled. The base context's
// cancellation cancels the whole tree (WithBaseContext), and I10 says no
// lazy task is left hanging: one bound to a child scope ends Canceled with
// the base's cause and its awaiter wakes.
func TestHMBaseContextCancelEndsLazyTasksBoundBelow(t *testing.T) {
	base, cancel := context.WithCancelCause(context.Background())
	s := hsSched(t, scheduler.WithBaseContext(base))
	sc := hsScope(t, s.Root())
	deep := hsScope(t, sc)
	var runs atomic.Int32
	lazy := scheduler.NewTask(deep, scCount(&runs))
	started := make(chan struct{})
	r, err := scheduler.Submit(sc, hsUntilDone(started, nil, hsRetCause))
	require.NoError(t, err)
	hsWithin(t, started, "running task")
	cancel(hmCause)
	_, err = hsAwait(t, r)
	assert.ErrorIs(t, err, hmCause)
	_, err = hsAwait(t, lazy)
	assert.ErrorIs(t, err, hmCause, "the lazy task ends with the base's cause")
	assert.Equal(t, lazytask.Canceled, lazy.State())
	assert.Zero(t, runs.Load())
	_, err = scheduler.Submit(deep, scCount(&runs))
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
}

// TestHMJoinAfterCancelWaitsForTheFunction: Kotlin Job.cancel then join:
// join returns only once the job has completed. Await after Cancel of a
// running task returns only when its function has returned, and the done
// callbacks run in registration order, once each, also one added later.
func TestHMJoinAfterCancelWaitsForTheFunction(t *testing.T) {
	s := hsSched(t)
	release := make(chan struct{})
	started := make(chan struct{})
	var returned atomic.Bool
	h, err := scheduler.Submit(s.Root(), func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		<-release // cleanup that takes a while
		returned.Store(true)
		return 0, ctx.Err()
	})
	require.NoError(t, err)
	var mu sync.Mutex
	var order []int
	for i := range 3 {
		h.OnDone(func(int, error) { mu.Lock(); order = append(order, i); mu.Unlock() })
	}
	hsWithin(t, started, "task")
	require.True(t, h.Cancel(nil))
	select {
	case <-h.Done():
		t.Fatal("Done closed before the canceled function returned")
	default:
	}
	ctx, stop := context.WithCancel(context.Background())
	stop()
	_, err = h.Await(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Await with an ended ctx returns its cause")
	assert.Equal(t, lazytask.Running, h.State(), "the task is still running its cleanup")
	close(release)
	_, err = hsAwait(t, h)
	assert.True(t, returned.Load())
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, lazytask.Canceled, h.State())
	lateRan := make(chan struct{})
	h.OnDone(func(int, error) { mu.Lock(); order = append(order, 3); mu.Unlock(); close(lateRan) })
	hsWithin(t, lateRan, "late callback")
	mu.Lock()
	assert.Equal(t, []int{0, 1, 2, 3}, order)
	mu.Unlock()
}

// TestHMPanicWithTheCancellationIsStillAFailure: Trio/asyncio: a crash is
// a crash, even if what was raised looks like the cancellation. A task of
// a canceled fail-fast scope that panics with its context's error ends
// Failed with a PanicError that keeps the value, and the group reports it.
func TestHMPanicWithTheCancellationIsStillAFailure(t *testing.T) {
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	started := make(chan struct{})
	h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		panic(context.Cause(ctx))
	})
	require.NoError(t, err)
	hsWithin(t, started, "task")
	sc.Cancel(hmCause)
	_, err = hsAwait(t, h)
	assert.Equal(t, lazytask.Failed, h.State(), "a panic is a failure")
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, hmCause, pe.Value)
	werr := hsWait(t, sc)
	assert.ErrorAs(t, werr, &pe, "the group reports the panic")
}

// TestHMShutdownOfAFailFastScopeJoinsErrorsRaisedWhileCancelling: asyncio
// TaskGroup: errors raised by children while they are being cancelled are
// aggregated. A scope shut down gracefully whose tasks fail on the way out
// returns every such error, and the cancellations are not among them.
func TestHMShutdownOfAFailFastScopeJoinsErrorsRaisedWhileCancelling(t *testing.T) {
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	first := errors.New("hm: first")
	var hs []*lazytask.Task[int]
	starts := make([]chan struct{}, 3)
	for i := range 3 {
		starts[i] = make(chan struct{})
		ret := hsRetErr
		if i > 0 {
			ret = func(context.Context) error { return hmErrClean }
		}
		h, err := scheduler.Submit(sc, hsUntilDone(starts[i], nil, ret))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, st := range starts {
		hsWithin(t, st, "task")
	}
	failer, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, first })
	require.NoError(t, err)
	_, _ = hsAwait(t, failer)
	err = sc.Shutdown(context.Background())
	assert.ErrorIs(t, err, first)
	assert.ErrorIs(t, err, hmErrClean)
	assert.Len(t, hsJoined(err), 3, "Shutdown = %v", err)
	assert.Equal(t, lazytask.Canceled, hs[0].State())
	assert.Equal(t, lazytask.Failed, hs[1].State())
}

// TestHMCancelOfAParkedMiddleScopeFreesTheCappedAncestor: nested caps (at
// most 1 under A) with work of a grandchild parked behind A's cap; the
// middle scope is canceled (explicitly, by a sibling's failure, or by its
// timeout). A's own queued task must then take A's slot when it frees, and
// nothing of the canceled subtree may run.
func TestHMCancelOfAParkedMiddleScopeFreesTheCappedAncestor(t *testing.T) {
	for _, how := range []string{"cancel", "failure", "timeout"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
				require.NoError(t, err)
				defer func() { _ = s.Shutdown(context.Background()) }()
				a, err := s.Root().NewScope(scheduler.WithName("A"), scheduler.WithLimit(1))
				require.NoError(t, err)
				opts := []scheduler.Option{scheduler.WithName("B"), scheduler.FailFast()}
				if how == "timeout" {
					opts = append(opts, scheduler.WithTimeout(time.Second))
				}
				b, err := a.NewScope(opts...)
				require.NoError(t, err)
				c, err := b.NewScope(scheduler.WithName("C"), scheduler.WithLimit(2))
				require.NoError(t, err)
				g := hsNewGateNoT()
				defer g.open()
				holder, err := scheduler.Submit(a, g.fn)
				require.NoError(t, err)
				<-g.started
				var runs atomic.Int32
				var parked []*lazytask.Task[int]
				for i := range 3 {
					h, err := scheduler.Submit(c, scCount(&runs), lazytask.WithPriority(10+i))
					require.NoError(t, err)
					parked = append(parked, h)
				}
				var bq *lazytask.Task[int]
				if how == "failure" {
					bq, err = scheduler.Submit(b, func(context.Context) (int, error) { return 0, hmErrD }, lazytask.WithPriority(100))
					require.NoError(t, err)
				}
				own, err := scheduler.Submit(a, func(context.Context) (int, error) { return 5, nil })
				require.NoError(t, err)
				switch how {
				case "cancel":
					b.Cancel(hmCause)
				case "failure":
					// bq needs A's slot to run and fail: Force it.
					require.NoError(t, a.Force(bq))
					_, _ = bq.Await(context.Background())
				case "timeout":
					time.Sleep(time.Second) // fake time (synctest)
				}
				for i, h := range parked {
					_, err := h.Await(context.Background())
					assert.Error(t, err, "parked %d", i)
					assert.Equal(t, lazytask.Canceled, h.State(), "parked %d", i)
				}
				g.open()
				_, err = holder.Await(context.Background())
				require.NoError(t, err)
				v, err := own.Await(context.Background())
				assert.NoError(t, err)
				assert.Equal(t, 5, v, "A's own queued task ran")
				assert.Zero(t, runs.Load(), "nothing of the canceled subtree ran")
				synctest.Wait()
				assert.Empty(t, a.Snapshot().Children, "B released")
				st := a.Stats()
				assert.Zero(t, st.Queued+st.Running+st.InUse, "A idle: %+v", st)
			})
		})
	}
}

// TestHMScopeTimeoutVersusOwnTimeout: Kotlin withTimeout inside a scope
// with a timeout of its own: whichever fires first decides. The scope's
// (outer) timeout is a cancellation of the task even when the task has a
// longer timeout of its own; the task's own, shorter timeout is its
// failure, and fails a fail-fast group.
func TestHMScopeTimeoutVersusOwnTimeout(t *testing.T) {
	for _, first := range []string{"scope", "own"} {
		t.Run(first, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog))
				require.NoError(t, err)
				defer func() { _ = s.Shutdown(context.Background()) }()
				scopeT, ownT := time.Second, time.Hour
				if first == "own" {
					scopeT, ownT = time.Hour, time.Second
				}
				sc, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithTimeout(scopeT))
				require.NoError(t, err)
				seen := make(chan hsSeen, 1)
				h, err := scheduler.Submit(sc, hsUntilDone(nil, seen, hsRetErr), lazytask.WithTimeout(ownT))
				require.NoError(t, err)
				sibSeen := make(chan hsSeen, 1)
				sib, err := scheduler.Submit(sc, hsUntilDone(nil, sibSeen, hsRetErr))
				require.NoError(t, err)
				began := time.Now()
				_, err = h.Await(context.Background())
				assert.Equal(t, time.Second, time.Since(began))
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				got := <-seen
				assert.ErrorIs(t, got.cause, context.DeadlineExceeded)
				werr := sc.Wait(context.Background())
				if first == "scope" {
					assert.Equal(t, lazytask.Canceled, h.State(), "the scope's timeout cancels the task")
					assert.NoError(t, werr)
				} else {
					assert.Equal(t, lazytask.Failed, h.State(), "its own timeout fails the task")
					assert.ErrorIs(t, werr, context.DeadlineExceeded)
					assert.Len(t, hsJoined(werr), 1)
				}
				assert.Equal(t, lazytask.Canceled, sib.State())
				<-sibSeen
			})
		})
	}
}
