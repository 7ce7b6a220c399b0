package scheduler_test

// Hostile tests of structured concurrency, ported from the test suites of
// Trio (nurseries, cancel scopes, shield, move_on_after/fail_after),
// asyncio (TaskGroup, gather, wait_for, as_completed) and Kotlin coroutines
// (coroutineScope, supervisorScope, withTimeout, NonCancellable,
// Job.join/cancel/invokeOnCompletion, CoroutineStart.LAZY), translated to
// scopes, fail-fast / supervise policies, Shield, lazy handles and the
// factory combinators. Helpers carry an "hs" prefix.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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

const hsHang = 10 * time.Second

var (
	hsErrA     = errors.New("hostile structured: A failed")
	hsErrB     = errors.New("hostile structured: B failed")
	hsErrLate  = errors.New("hostile structured: failed during cleanup")
	hsCause    = errors.New("hostile structured: cancel cause")
	hsQuietLog = slog.New(slog.DiscardHandler)
)

type hsKey struct{}

// hsSched makes a scheduler (cap 4 unless opts say otherwise, quiet
// logger) and shuts it down at cleanup, with a grace period that is already
// over if the test failed, so that a failing test cannot hang the binary.
func hsSched(t *testing.T, opts ...scheduler.SchedulerOption) *scheduler.Scheduler {
	t.Helper()
	all := append([]scheduler.SchedulerOption{scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog)}, opts...)
	s, err := scheduler.New(all...)
	require.NoError(t, err, "scheduler.New")
	t.Cleanup(func() {
		ctx := context.Background()
		if t.Failed() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		_ = s.Shutdown(ctx)
	})
	return s
}

func hsScope(t *testing.T, parent *scheduler.Scope, opts ...scheduler.Option) *scheduler.Scope {
	t.Helper()
	sc, err := parent.NewScope(opts...)
	require.NoError(t, err, "NewScope")
	return sc
}

func hsWithin(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hsHang):
		t.Fatalf("%s: still waiting after %v", what, hsHang)
	}
}

func hsAwait[T any](t *testing.T, h *lazytask.Task[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hsHang)
	defer cancel()
	v, err := h.Await(ctx)
	if ctx.Err() != nil {
		t.Fatalf("task %q: Await still waiting after %v (state %v)", h.Name(), hsHang, h.State())
	}
	return v, err
}

func hsWait(t *testing.T, sc *scheduler.Scope) error {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(context.Background(), hsHang, errors.New("hsWait: hung"))
	defer cancel()
	err := sc.Wait(ctx)
	if ctx.Err() != nil {
		t.Fatalf("scope %q: Wait still waiting after %v", sc.Name(), hsHang)
	}
	return err
}

// hsGate holds a task until opened; opened at cleanup at the latest.
type hsGate struct {
	started, release chan struct{}
	once, sonce      sync.Once
}

func hsNewGate(t *testing.T) *hsGate {
	g := &hsGate{started: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func hsNewGateNoT() *hsGate {
	return &hsGate{started: make(chan struct{}), release: make(chan struct{})}
}

func (g *hsGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *hsGate) fn(context.Context) (int, error) {
	g.sonce.Do(func() { close(g.started) })
	<-g.release
	return 1, nil
}

// hsSeen records what a task saw of its context once it ended.
type hsSeen struct {
	err, cause, derived error
}

// hsUntilDone returns a task body that waits for its context, records what
// it saw (also through a context derived from it) and returns ret(ctx).
func hsUntilDone(started chan<- struct{}, seen chan<- hsSeen, ret func(ctx context.Context) error) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if started != nil {
			close(started)
		}
		<-ctx.Done()
		<-dctx.Done()
		if seen != nil {
			seen <- hsSeen{err: ctx.Err(), cause: context.Cause(ctx), derived: context.Cause(dctx)}
		}
		return 0, ret(ctx)
	}
}

func hsRetCause(ctx context.Context) error { return context.Cause(ctx) }
func hsRetErr(ctx context.Context) error   { return ctx.Err() }

// hsJoined returns the errors joined in err, or err alone.
func hsJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// hsDone records done callbacks: how many ran and the last error.
type hsDone struct {
	n   atomic.Int32
	mu  sync.Mutex
	err error
}

func (d *hsDone) cb(_ int, err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	d.n.Add(1)
}

func (d *hsDone) last() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// --- Trio nurseries / asyncio TaskGroup: fail-fast ---------------------

func TestHostileStructuredFailFastCancelsSiblingsAndJoinsEveryRealError(t *testing.T) {
	// asyncio test_taskgroup_02/03, Trio test_nursery_*: one child's error
	// cancels the siblings; Wait reports every real error (the one that
	// failed first and one raised by a sibling during its cleanup), not the
	// cancellations; a queued sibling never starts, and its done callback
	// runs once, reporting the cancel.
	s := hsSched(t, scheduler.WithLimit(3))
	sc := hsScope(t, s.Root(), scheduler.WithName("group"), scheduler.FailFast())
	fail := make(chan struct{})
	aStarted, bStarted, cStarted := make(chan struct{}), make(chan struct{}), make(chan struct{})
	bSeen := make(chan hsSeen, 1)
	a, err := scheduler.Submit(sc, func(context.Context) (int, error) {
		close(aStarted)
		<-fail
		return 0, hsErrA
	}, lazytask.WithName("A"))
	require.NoError(t, err)
	b, err := scheduler.Submit(sc, hsUntilDone(bStarted, bSeen, hsRetCause), lazytask.WithName("B"))
	require.NoError(t, err)
	c, err := scheduler.Submit(sc, hsUntilDone(cStarted, nil, func(context.Context) error { return hsErrLate }), lazytask.WithName("C"))
	require.NoError(t, err)
	hsWithin(t, aStarted, "A start")
	hsWithin(t, bStarted, "B start")
	hsWithin(t, cStarted, "C start")
	var dRuns atomic.Int32
	d, err := scheduler.Submit(sc, func(context.Context) (int, error) { dRuns.Add(1); return 1, nil }, lazytask.WithName("D"))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, d.State(), "D behind a full cap")
	var dDone hsDone
	d.OnDone(dDone.cb)
	dRan := make(chan struct{}) // callbacks run in order: dDone.cb has run once this closes
	d.OnDone(func(int, error) { close(dRan) })
	close(fail)

	werr := hsWait(t, sc)
	require.Error(t, werr, "Wait of a failed fail-fast scope")
	assert.ErrorIs(t, werr, hsErrA, "Wait")
	assert.ErrorIs(t, werr, hsErrLate, "Wait")
	assert.NotErrorIs(t, werr, context.Canceled, "Wait")
	joined := hsJoined(werr)
	if assert.Len(t, joined, 2, "errors joined in %v", werr) {
		assert.ErrorIs(t, joined[0], hsErrA, "first joined error is the first failure")
	}
	assert.Equal(t, lazytask.Failed, a.State(), "A")
	assert.Equal(t, lazytask.Canceled, b.State(), "B")
	assert.Equal(t, lazytask.Failed, c.State(), "C")
	assert.Equal(t, lazytask.Canceled, d.State(), "D")
	assert.Zero(t, dRuns.Load(), "runs of queued D")
	seen := <-bSeen
	assert.ErrorIs(t, seen.cause, hsErrA, "context.Cause in B")
	assert.ErrorIs(t, seen.derived, hsErrA, "context.Cause of a context derived in B")
	assert.ErrorIs(t, seen.err, context.Canceled, "ctx.Err in B")
	_, err = d.Await(context.Background())
	assert.ErrorIs(t, err, hsErrA, "D.Await")
	// Await may return before the callbacks that follow the end have run
	// (the waiter is woken first); they run once, soon.
	hsWithin(t, dRan, "D's done callbacks")
	assert.Equal(t, int32(1), dDone.n.Load(), "D's done callback runs")
	assert.ErrorIs(t, dDone.last(), hsErrA, "D's done callback error")
	_, err = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit after the failure")
	assert.ErrorIs(t, err, hsErrA, "Submit after the failure wraps the cause")
	// Shutdown of the failed scope returns its errors too.
	serr := sc.Shutdown(context.Background())
	assert.ErrorIs(t, serr, hsErrA, "Shutdown of the failed scope")
	assert.ErrorIs(t, serr, hsErrLate, "Shutdown of the failed scope")
}

func TestHostileStructuredFailFastWaitWaitsForASiblingThatIgnoresCancellation(t *testing.T) {
	// asyncio test_taskgroup_08 / Trio: a child that swallows the
	// cancellation keeps the group open; Wait returns only once it ends.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		stubborn := hsNewGateNoT()
		defer stubborn.open()
		st, err := scheduler.Submit(sc, stubborn.fn, lazytask.WithName("stubborn"))
		require.NoError(t, err)
		<-stubborn.started
		_, err = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, hsErrA })
		require.NoError(t, err)
		waited := make(chan error, 1)
		go func() { waited <- sc.Wait(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-waited:
			t.Fatalf("Wait returned %v while a sibling still runs (state %v)", err, st.State())
		default:
		}
		assert.Error(t, sc.Context().Err(), "the scope is canceled by the failure")
		stubborn.open()
		err = <-waited
		assert.ErrorIs(t, err, hsErrA, "Wait")
		assert.Equal(t, lazytask.Succeeded, st.State(), "the stubborn sibling reports its true outcome")
	})
}

func TestHostileStructuredErrorAfterExplicitCancelIsStillReported(t *testing.T) {
	// Trio: an exception raised by a child after its nursery was canceled
	// is still raised. Here: a real error returned after Cancel(cause) is
	// a failure; the cancel cause itself is not an error of Wait.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	started := make(chan struct{})
	late, err := scheduler.Submit(sc, hsUntilDone(started, nil, func(context.Context) error { return hsErrLate }))
	require.NoError(t, err)
	quiet, err := scheduler.Submit(sc, hsUntilDone(nil, nil, hsRetErr))
	require.NoError(t, err)
	hsWithin(t, started, "late start")
	sc.Cancel(hsCause)
	werr := hsWait(t, sc)
	assert.ErrorIs(t, werr, hsErrLate, "Wait")
	assert.NotErrorIs(t, werr, hsCause, "Wait reports the explicit cancel cause")
	assert.Len(t, hsJoined(werr), 1, "errors in %v", werr)
	assert.Equal(t, lazytask.Failed, late.State())
	_, err = hsAwait(t, quiet)
	assert.Equal(t, lazytask.Canceled, quiet.State())
	assert.ErrorIs(t, err, hsCause, "quiet.Await")
}

func TestHostileStructuredFailFastChildReachesFailFastParentAsOneScopeError(t *testing.T) {
	// Trio nested nurseries: the inner group's failure reaches the outer
	// one as one error (a ScopeError), however many inner tasks fail; the
	// outer group's other tasks are canceled with it as the cause.
	s := hsSched(t, scheduler.WithLimit(8))
	parent := hsScope(t, s.Root(), scheduler.WithName("outer"), scheduler.FailFast())
	child := hsScope(t, parent, scheduler.WithName("inner"), scheduler.FailFast())
	sibStarted, lateStarted := make(chan struct{}), make(chan struct{})
	sibSeen := make(chan hsSeen, 1)
	sib, err := scheduler.Submit(parent, hsUntilDone(sibStarted, sibSeen, hsRetErr), lazytask.WithName("outer-sibling"))
	require.NoError(t, err)
	_, err = scheduler.Submit(child, hsUntilDone(lateStarted, nil, func(context.Context) error { return hsErrLate }))
	require.NoError(t, err)
	hsWithin(t, sibStarted, "outer sibling start")
	hsWithin(t, lateStarted, "inner late start")
	_, err = scheduler.Submit(child, func(context.Context) (int, error) { return 0, hsErrA })
	require.NoError(t, err)

	cerr := hsWait(t, child)
	assert.ErrorIs(t, cerr, hsErrA, "inner Wait")
	assert.ErrorIs(t, cerr, hsErrLate, "inner Wait")
	perr := hsWait(t, parent)
	joined := hsJoined(perr)
	require.Len(t, joined, 1, "outer Wait = %v; want one ScopeError", perr)
	var se *scheduler.ScopeError
	require.ErrorAs(t, joined[0], &se, "outer Wait")
	assert.Equal(t, "inner", se.Scope, "ScopeError.Scope")
	assert.ErrorIs(t, perr, hsErrA, "outer Wait wraps the first inner error")
	assert.NotErrorIs(t, perr, hsErrLate, "outer Wait: only the first inner error goes up")
	_, _ = hsAwait(t, sib)
	assert.Equal(t, lazytask.Canceled, sib.State(), "outer sibling")
	seen := <-sibSeen
	assert.ErrorIs(t, seen.cause, hsErrA, "context.Cause in the outer sibling")
	assert.ErrorAs(t, seen.cause, &se, "context.Cause in the outer sibling is the ScopeError")
}

func TestHostileStructuredSupervisedChildAndSupervisorParent(t *testing.T) {
	// Kotlin supervisorScope / SupervisorJob: a supervised child's failures
	// go to its handler, once each, and never reach a fail-fast parent;
	// a fail-fast child under a supervisor parent reaches the parent's
	// handler exactly once, however many of its tasks fail.
	s := hsSched(t, scheduler.WithLimit(8))
	var mu sync.Mutex
	childGot := map[string]int{}
	supGot := []error{}
	ffParent := hsScope(t, s.Root(), scheduler.WithName("ff-parent"), scheduler.FailFast())
	supChild := hsScope(t, ffParent, scheduler.WithName("sup-child"), scheduler.Supervise(func(info lazytask.Info, err error) {
		mu.Lock()
		childGot[info.Name]++
		mu.Unlock()
	}))
	supParent := hsScope(t, s.Root(), scheduler.WithName("sup-parent"), scheduler.Supervise(func(info lazytask.Info, err error) {
		mu.Lock()
		supGot = append(supGot, err)
		mu.Unlock()
	}))
	ffChild := hsScope(t, supParent, scheduler.WithName("ff-child"), scheduler.FailFast())

	sibStarted := make(chan struct{})
	sib, err := scheduler.Submit(ffParent, hsUntilDone(sibStarted, nil, hsRetErr), lazytask.WithName("ff-sibling"))
	require.NoError(t, err)
	hsWithin(t, sibStarted, "ff sibling start")
	var oks []*lazytask.Task[int]
	for i := range 3 {
		_, err := scheduler.Submit(supChild, func(context.Context) (int, error) { return 0, fmt.Errorf("fail %d", i) }, lazytask.WithName(fmt.Sprintf("fail-%d", i)))
		require.NoError(t, err)
		ok, err := scheduler.Submit(supChild, func(context.Context) (int, error) { return i, nil }, lazytask.WithName(fmt.Sprintf("ok-%d", i)))
		require.NoError(t, err)
		oks = append(oks, ok)
	}
	require.NoError(t, hsWait(t, supChild), "Wait of a supervisor")
	for _, ok := range oks {
		assert.Equal(t, lazytask.Succeeded, ok.State(), "sibling of failing supervised tasks")
	}
	assert.Equal(t, lazytask.Running, sib.State(), "a supervised child's failures do not cancel a fail-fast parent")
	assert.NoError(t, ffParent.Err(), "fail-fast parent's errors")

	lateStarted := make(chan struct{})
	_, err = scheduler.Submit(ffChild, hsUntilDone(lateStarted, nil, func(context.Context) error { return hsErrLate }))
	require.NoError(t, err)
	hsWithin(t, lateStarted, "late start")
	_, err = scheduler.Submit(ffChild, func(context.Context) (int, error) { return 0, hsErrA })
	require.NoError(t, err)
	werr := hsWait(t, ffChild)
	assert.Len(t, hsJoined(werr), 2, "fail-fast child's Wait = %v", werr)
	assert.NoError(t, hsWait(t, supParent), "Wait of the supervisor parent")

	sib.Cancel(nil)
	// The handlers run after the tasks end; Shutdown waits for them.
	require.NoError(t, s.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"fail-0": 1, "fail-1": 1, "fail-2": 1}, childGot, "supervised child's handler calls")
	if assert.Len(t, supGot, 1, "supervisor parent's handler calls: %v", supGot) {
		var se *scheduler.ScopeError
		assert.ErrorAs(t, supGot[0], &se)
		assert.ErrorIs(t, supGot[0], hsErrA)
	}
}

// --- cancellation ----------------------------------------------------------

func TestHostileStructuredParentCancelReachesNestedScopesAndQueuedNeverStart(t *testing.T) {
	// Kotlin: cancelling a parent job cancels its children with the cause;
	// Trio: a cancel scope covers everything inside it. Queued tasks of
	// nested scopes never start; their done callbacks run once with the
	// cause (also one registered after the end); later submissions and
	// scopes are refused.
	s := hsSched(t, scheduler.WithLimit(8))
	p := hsScope(t, s.Root(), scheduler.WithName("p"))
	c := hsScope(t, p, scheduler.WithName("c"))
	g := hsScope(t, c, scheduler.WithName("g"), scheduler.WithLimit(1))
	rStarted, r2Started := make(chan struct{}), make(chan struct{})
	rSeen, r2Seen := make(chan hsSeen, 1), make(chan hsSeen, 1)
	r, err := scheduler.Submit(g, hsUntilDone(rStarted, rSeen, hsRetErr), lazytask.WithName("r"))
	require.NoError(t, err)
	r2, err := scheduler.Submit(c, hsUntilDone(r2Started, r2Seen, hsRetCause), lazytask.WithName("r2"))
	require.NoError(t, err)
	hsWithin(t, rStarted, "r start")
	hsWithin(t, r2Started, "r2 start")
	var runs atomic.Int32
	var queued []*lazytask.Task[int]
	var dones []*hsDone
	for i := range 3 {
		q, err := scheduler.Submit(g, func(context.Context) (int, error) { runs.Add(1); return 1, nil }, lazytask.WithName(fmt.Sprintf("q%d", i)))
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, q.State())
		d := new(hsDone)
		q.OnDone(d.cb)
		queued = append(queued, q)
		dones = append(dones, d)
	}
	lazy := scheduler.NewTask(g, func(context.Context) (int, error) { runs.Add(1); return 1, nil })

	p.Cancel(hsCause)

	for _, q := range queued {
		assert.Equal(t, lazytask.Canceled, q.State(), "queued %s right after Cancel", q.Name())
		_, err := hsAwait(t, q)
		assert.ErrorIs(t, err, hsCause, "queued %s", q.Name())
	}
	_, err = hsAwait(t, lazy)
	assert.ErrorIs(t, err, hsCause, "lazy task bound to a grandchild")
	assert.Equal(t, lazytask.Canceled, lazy.State())
	for _, h := range []*lazytask.Task[int]{r, r2} {
		_, err := hsAwait(t, h)
		assert.ErrorIs(t, err, hsCause, "running %s", h.Name())
		assert.Equal(t, lazytask.Canceled, h.State(), "running %s", h.Name())
	}
	for _, ch := range []chan hsSeen{rSeen, r2Seen} {
		seen := <-ch
		assert.ErrorIs(t, seen.err, context.Canceled, "ctx.Err")
		assert.Equal(t, hsCause, seen.cause, "context.Cause")
		assert.Equal(t, hsCause, seen.derived, "context.Cause of a derived context")
	}
	require.NoError(t, hsWait(t, p), "Wait of a canceled supervisor")
	assert.Zero(t, runs.Load(), "runs of queued and lazy tasks")
	for i, d := range dones {
		assert.Equal(t, int32(1), d.n.Load(), "done callbacks of q%d", i)
		assert.ErrorIs(t, d.last(), hsCause, "done callback of q%d", i)
		var late hsDone
		queued[i].OnDone(late.cb)
		assert.Equal(t, int32(1), late.n.Load(), "a callback added after the end runs once, before OnDone returns")
		assert.ErrorIs(t, late.last(), hsCause)
	}
	_, err = scheduler.Submit(g, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit to a grandchild of a canceled scope")
	assert.ErrorIs(t, err, hsCause, "Submit to a grandchild of a canceled scope")
	_, err = c.NewScope()
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "NewScope under a canceled scope")
	assert.Zero(t, runs.Load())
	assert.Equal(t, hsCause, context.Cause(g.Context()), "context.Cause of the grandchild scope")
	st := s.Stats()
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy), "Stats identity: %+v", st)
	assert.Equal(t, uint64(6), st.Canceled, "Stats().Canceled: r, r2, q0-q2 and the lazy task")
	assert.Equal(t, uint64(1), st.Rejected, "Stats().Rejected: the refused Submit")
}

func TestHostileStructuredRunningTaskCancelWithNilCauseHasCause(t *testing.T) {
	// Cancel's doc: "cancels the task with cause (context.Canceled if nil)
	// ... A Running task's context is canceled with that cause (see
	// context.Cause)". context.Cause of a canceled context is never nil.
	s := hsSched(t)
	started := make(chan struct{})
	seen := make(chan hsSeen, 1)
	h, err := scheduler.Submit(s, hsUntilDone(started, seen, hsRetErr))
	require.NoError(t, err)
	hsWithin(t, started, "start")
	assert.True(t, h.Cancel(nil), "Cancel of a running task")
	got := <-seen
	assert.ErrorIs(t, got.err, context.Canceled, "ctx.Err after Cancel(nil)")
	assert.ErrorIs(t, got.cause, context.Canceled, "context.Cause(ctx) after Cancel(nil)")
	assert.ErrorIs(t, got.derived, context.Canceled, "context.Cause(derived) after Cancel(nil)")
	_, err = hsAwait(t, h)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, lazytask.Canceled, h.State())
}

func TestHostileStructuredCancelAfterDoneIsANoOp(t *testing.T) {
	// Kotlin: cancel() on a completed job does nothing. A task reports its
	// true outcome (DESIGN §8).
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	ok, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	v, err := hsAwait(t, ok)
	require.NoError(t, err)
	require.Equal(t, 7, v)
	assert.False(t, ok.Cancel(hsCause), "Cancel of a succeeded task")
	assert.Equal(t, lazytask.Succeeded, ok.State())
	v, err = ok.Result()
	assert.NoError(t, err)
	assert.Equal(t, 7, v)

	lazy := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	assert.True(t, lazy.Cancel(hsCause), "first Cancel of a lazy task")
	assert.False(t, lazy.Cancel(hsErrA), "second Cancel of a canceled task")
	assert.ErrorIs(t, lazy.Err(), hsCause, "the first cause stays")
	assert.NotErrorIs(t, lazy.Err(), hsErrA)
	assert.ErrorIs(t, sc.Enqueue(lazy), scheduler.ErrNotQueued, "Enqueue of a canceled task")
	assert.ErrorIs(t, lazy.Start(), lazytask.ErrStarted, "Start of a canceled task")

	sc.Cancel(hsCause)
	assert.Equal(t, lazytask.Succeeded, ok.State(), "a scope cancel after the end changes nothing")
	assert.NoError(t, ok.Err())
	assert.NoError(t, hsWait(t, sc), "a canceled scope with nothing failed")
	sc.Cancel(hsErrA) // a second cancel keeps the first cause
	assert.Equal(t, hsCause, context.Cause(sc.Context()))
}

func TestHostileStructuredPanicAfterCancellationIsAFailure(t *testing.T) {
	// lazytask's doc: "A panic in the task's function ends the task Failed
	// with a *PanicError". Code that panics with its context's error (a
	// "must" helper) after a cancellation still panicked.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	started := make(chan struct{})
	h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		panic(ctx.Err())
	})
	require.NoError(t, err)
	hsWithin(t, started, "start")
	sc.Cancel(nil)
	_, err = hsAwait(t, h)
	var pe *lazytask.PanicError
	assert.ErrorAs(t, err, &pe, "Await of a task that panicked")
	assert.Equal(t, lazytask.Failed, h.State(), "State of a task that panicked")
	assert.ErrorAs(t, hsWait(t, sc), &pe, "fail-fast Wait reports the panic")
}

// --- panics and Goexit ------------------------------------------------------

func hsPanickingBody(ctx context.Context) (int, error) { panic(hsErrA) }

func TestHostileStructuredPanicBecomesAPanicErrorThatFailsTheGroup(t *testing.T) {
	// Trio/asyncio: an exception in a child cancels the group; here a
	// panic is an error value with its value and stack (I6).
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	sibStarted := make(chan struct{})
	sibSeen := make(chan hsSeen, 1)
	sib, err := scheduler.Submit(sc, hsUntilDone(sibStarted, sibSeen, hsRetErr))
	require.NoError(t, err)
	hsWithin(t, sibStarted, "sibling start")
	h, err := scheduler.Submit(sc, hsPanickingBody)
	require.NoError(t, err)
	_, err = hsAwait(t, h)
	var pe *lazytask.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, hsErrA, pe.Value, "PanicError.Value")
	assert.ErrorIs(t, err, hsErrA, "a PanicError unwraps to an error value")
	assert.Contains(t, string(pe.Stack), "hsPanickingBody", "PanicError.Stack names the panicking function")
	assert.Contains(t, pe.Frame(), "hsPanickingBody", "PanicError.Frame")
	assert.Equal(t, lazytask.Failed, h.State())
	werr := hsWait(t, sc)
	assert.ErrorAs(t, werr, &pe, "Wait")
	assert.Len(t, hsJoined(werr), 1)
	assert.Equal(t, lazytask.Canceled, sib.State())
	seen := <-sibSeen
	assert.ErrorAs(t, seen.cause, &pe, "sibling's cause is the panic")
	assert.Equal(t, 0, s.Stats().InUse)
}

func TestHostileStructuredGoexitInATaskFailsTheGroup(t *testing.T) {
	// DESIGN §8: "A task whose function calls runtime.Goexit ends Failed
	// with its own sentinel error; awaiters wake."
	s := hsSched(t, scheduler.WithLimit(1))
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	queued := make(chan struct{})
	h, err := scheduler.Submit(sc, func(context.Context) (int, error) {
		<-queued // the sibling is queued before the group fails
		runtime.Goexit()
		return 1, nil
	})
	require.NoError(t, err)
	var runs atomic.Int32
	q, err := scheduler.Submit(sc, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
	require.NoError(t, err)
	close(queued)
	_, err = hsAwait(t, h)
	assert.ErrorIs(t, err, lazytask.ErrGoexit)
	assert.Equal(t, lazytask.Failed, h.State())
	werr := hsWait(t, sc)
	assert.ErrorIs(t, werr, lazytask.ErrGoexit, "Wait")
	_, err = hsAwait(t, q)
	assert.ErrorIs(t, err, lazytask.ErrGoexit, "the queued sibling is canceled with the Goexit as cause")
	assert.Zero(t, runs.Load())
	assert.Equal(t, 0, s.Stats().InUse)
}

// --- timeouts: move_on_after / fail_after / withTimeout --------------------

func TestHostileStructuredScopeTimeoutEndsTasksWithDeadlineExceeded(t *testing.T) {
	// Trio move_on_after: a scope timeout cancels running and queued tasks
	// with DeadlineExceeded; the cancellations are no errors of Wait.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.WithName("timed"), scheduler.FailFast(), scheduler.WithTimeout(time.Second), scheduler.WithLimit(1))
		require.NoError(t, err)
		seen := make(chan hsSeen, 1)
		began := time.Now()
		r, err := scheduler.Submit(sc, hsUntilDone(nil, seen, hsRetErr))
		require.NoError(t, err)
		var runs atomic.Int32
		q, err := scheduler.Submit(sc, func(context.Context) (int, error) { runs.Add(1); return 0, nil })
		require.NoError(t, err)
		_, err = r.Await(context.Background())
		assert.Equal(t, time.Second, time.Since(began), "the scope timed out after its timeout")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "running task")
		assert.Equal(t, lazytask.Canceled, r.State())
		got := <-seen
		assert.ErrorIs(t, got.err, context.DeadlineExceeded, "ctx.Err in the task")
		assert.ErrorIs(t, got.cause, context.DeadlineExceeded, "context.Cause in the task")
		assert.ErrorIs(t, got.derived, context.DeadlineExceeded, "context.Cause of a derived context")
		_, err = q.Await(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "queued task")
		assert.Equal(t, lazytask.Canceled, q.State())
		assert.Zero(t, runs.Load())
		assert.NoError(t, sc.Wait(context.Background()), "a timed-out fail-fast scope has no real error")
		assert.ErrorIs(t, sc.Context().Err(), context.DeadlineExceeded)
		_, err = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, nil })
		assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit after the timeout")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Submit after the timeout wraps the cause")
	})
}

func TestHostileStructuredOwnTimeoutFailsTheGroupAndHasACause(t *testing.T) {
	// Trio fail_after / Kotlin withTimeout in coroutineScope: a task's own
	// timeout is a failure (outcome_test), so it cancels its fail-fast
	// siblings; inside the timed-out task, ctx.Err() and context.Cause(ctx)
	// both say DeadlineExceeded (a canceled context always has a cause).
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		seen, sibSeen := make(chan hsSeen, 1), make(chan hsSeen, 1)
		began := time.Now()
		h, err := scheduler.Submit(sc, hsUntilDone(nil, seen, hsRetErr), lazytask.WithTimeout(time.Second))
		require.NoError(t, err)
		sib, err := scheduler.Submit(sc, hsUntilDone(nil, sibSeen, hsRetErr))
		require.NoError(t, err)
		werr := sc.Wait(context.Background())
		assert.Equal(t, time.Second, time.Since(began))
		assert.ErrorIs(t, werr, context.DeadlineExceeded, "Wait")
		assert.Len(t, hsJoined(werr), 1, "Wait = %v", werr)
		assert.Equal(t, lazytask.Failed, h.State())
		assert.Equal(t, lazytask.Canceled, sib.State())
		got := <-seen
		assert.ErrorIs(t, got.err, context.DeadlineExceeded, "ctx.Err in the timed-out task")
		assert.ErrorIs(t, got.cause, context.DeadlineExceeded, "context.Cause(ctx) in the timed-out task")
		assert.ErrorIs(t, got.derived, context.DeadlineExceeded, "context.Cause(derived) in the timed-out task")
		sg := <-sibSeen
		assert.ErrorIs(t, sg.cause, context.DeadlineExceeded, "sibling's cause")
	})
}

func TestHostileStructuredTaskTimeoutCountsFromItsStart(t *testing.T) {
	// DESIGN §8: "A per-task timeout counts from the moment the task
	// starts, not from creation."
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		g := hsNewGateNoT()
		defer g.open()
		_, err = scheduler.Submit(s, g.fn)
		require.NoError(t, err)
		<-g.started
		type start struct {
			err      error
			deadline time.Time
			at       time.Time
		}
		starts := make(chan start, 1)
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			d, _ := ctx.Deadline()
			starts <- start{ctx.Err(), d, time.Now()}
			return 1, nil
		}, lazytask.WithTimeout(time.Second))
		require.NoError(t, err)
		time.Sleep(5 * time.Second) // fake time in the queue
		g.open()
		_, err = h.Await(context.Background())
		assert.NoError(t, err)
		st := <-starts
		assert.NoError(t, st.err, "ctx.Err at the start after 5 s in the queue")
		assert.Truef(t, st.at.Add(time.Second).Equal(st.deadline), "deadline = %v; want start %v + 1 s", st.deadline, st.at)
	})
}

func TestHostileStructuredCarriedDeadlineReportsDeadlineExceeded(t *testing.T) {
	// WithContext: "The task's context reports ctx's deadline too", and the
	// context contract says Err is DeadlineExceeded once the deadline
	// passed. A request's deadline that passes while the task runs.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		req, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		seen := make(chan hsSeen, 1)
		var deadline time.Time
		h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			deadline, _ = ctx.Deadline()
			return hsUntilDone(nil, seen, hsRetErr)(ctx)
		}, lazytask.WithContext(req))
		require.NoError(t, err)
		_, err = h.Await(context.Background())
		rd, _ := req.Deadline()
		assert.Equal(t, rd, deadline, "task ctx reports the request's deadline")
		got := <-seen
		assert.ErrorIs(t, got.err, context.DeadlineExceeded, "ctx.Err of a task whose carried deadline passed")
		assert.ErrorIs(t, got.cause, context.DeadlineExceeded, "context.Cause")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await")
		assert.Equal(t, lazytask.Canceled, h.State(), "the request's deadline is a cancellation from outside")
	})
}

// --- shield / NonCancellable ----------------------------------------------

func TestHostileStructuredShieldRunsCleanupAfterTheScopeIsCanceled(t *testing.T) {
	// Trio CancelScope(shield=True) / Kotlin withContext(NonCancellable):
	// cleanup in a canceled task gets a live context with the task's
	// values; its own timeout still bounds it.
	synctest.Test(t, func(t *testing.T) {
		base := context.WithValue(context.Background(), hsKey{}, "base")
		s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog), scheduler.WithBaseContext(base))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		started := make(chan struct{})
		type report struct {
			liveErr   error
			value     any
			handle    lazytask.Handle
			boundErr  error
			boundTook time.Duration
			cleanup   error
		}
		reports := make(chan report, 1)
		var self lazytask.Handle
		var selfMu sync.Mutex
		h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			var r report
			r.cleanup = scheduler.Shield(ctx, 0, func(sctx context.Context) error {
				r.liveErr = sctx.Err()
				r.value = sctx.Value(hsKey{})
				r.handle = lazytask.HandleOf(sctx)
				return nil
			})
			t0 := time.Now()
			_ = scheduler.Shield(ctx, 2*time.Second, func(sctx context.Context) error {
				<-sctx.Done()
				r.boundErr = sctx.Err()
				return nil
			})
			r.boundTook = time.Since(t0)
			reports <- r
			return 0, context.Cause(ctx)
		})
		require.NoError(t, err)
		selfMu.Lock()
		self = h
		selfMu.Unlock()
		<-started
		sc.Cancel(hsCause)
		_, err = h.Await(context.Background())
		assert.ErrorIs(t, err, hsCause)
		assert.Equal(t, lazytask.Canceled, h.State())
		r := <-reports
		assert.NoError(t, r.liveErr, "shielded ctx of a canceled task")
		assert.Equal(t, "base", r.value, "shielded ctx keeps the values")
		selfMu.Lock()
		assert.Equal(t, self, r.handle, "HandleOf(shielded ctx)")
		selfMu.Unlock()
		assert.ErrorIs(t, r.boundErr, context.DeadlineExceeded, "shield's own timeout")
		assert.Equal(t, 2*time.Second, r.boundTook, "shield's own timeout")
		assert.NoError(t, r.cleanup)
	})
}

// --- waiting from inside -----------------------------------------------------

func TestHostileStructuredWaitFromInsideWaitsForTheSiblings(t *testing.T) {
	// Scope.Wait's doc: "Called from inside tasks of the scope (with their
	// context), it does not wait for those tasks" — but it does wait for
	// the others.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(1), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		g := hsNewGateNoT()
		defer g.open()
		waited := make(chan error, 1)
		inner, err := scheduler.Go(sc, func(ctx context.Context) error {
			b, err := scheduler.Submit(sc, g.fn, lazytask.WithName("B"))
			if err != nil {
				return err
			}
			_, err = scheduler.Submit(sc, func(context.Context) (int, error) { return 0, hsErrB })
			if err != nil {
				return err
			}
			werr := sc.Wait(ctx) // cap 1: lends the slot, B and the failing one run
			if !b.State().Terminal() {
				werr = fmt.Errorf("Wait returned with B %v: %w", b.State(), werr)
			}
			waited <- werr
			return nil
		})
		require.NoError(t, err)
		<-g.started
		synctest.Wait()
		select {
		case err := <-waited:
			t.Fatalf("Wait from inside returned %v while B runs", err)
		default:
		}
		g.open()
		werr := <-waited
		// The failure canceled the scope: the waiting task's own context
		// ends, and Wait may return that cause or the scope's errors;
		// either way it names hsErrB and B has ended.
		assert.ErrorIs(t, werr, hsErrB)
		_, err = inner.Await(context.Background())
		assert.NoError(t, err)
	})
}

func TestHostileStructuredWaitFromTwoGoroutinesOfOneTaskWaitsForTheSiblings(t *testing.T) {
	// One task waits on its own scope from two of its goroutines (a
	// watcher and its main path, say). Each Wait must still wait for the
	// other tasks of the scope: the task is one task, however many of its
	// goroutines wait.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope()
		require.NoError(t, err)
		g := hsNewGateNoT()
		defer g.open()
		b, err := scheduler.Submit(sc, g.fn, lazytask.WithName("B"))
		require.NoError(t, err)
		<-g.started
		states := make(chan lazytask.State, 2)
		a, err := scheduler.Go(sc, func(ctx context.Context) error {
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					_ = sc.Wait(ctx)
					states <- b.State()
				})
			}
			wg.Wait()
			return nil
		}, lazytask.WithName("A"))
		require.NoError(t, err)
		synctest.Wait()
		select {
		case st := <-states:
			g.open()
			t.Fatalf("Scope.Wait from one of two goroutines of task A returned while sibling B is %v; want it to wait for B", st)
		default:
		}
		g.open()
		for range 2 {
			assert.True(t, (<-states).Terminal(), "B when a Wait returned")
		}
		_, err = a.Await(context.Background())
		assert.NoError(t, err)
	})
}

func TestHostileStructuredAwaitSiblingAtCapOneDoesNotDeadlock(t *testing.T) {
	// Trio/asyncio: a child awaiting another child of the same group. At a
	// cap of 1 (scheduler's, or the scope's own), the waiter lends its
	// slot (I9), and the cap holds for tasks running their own code.
	for _, tc := range []struct {
		name  string
		sched []scheduler.SchedulerOption
		scope []scheduler.Option
	}{
		{"scheduler cap 1", []scheduler.SchedulerOption{scheduler.WithLimit(1)}, nil},
		{"scope cap 1", []scheduler.SchedulerOption{scheduler.WithLimit(4)}, []scheduler.Option{scheduler.WithLimit(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := hsSched(t, tc.sched...)
			sc := hsScope(t, s.Root(), append(tc.scope, scheduler.FailFast())...)
			var running, peak atomic.Int32
			enter := func() {
				v := running.Add(1)
				for {
					m := peak.Load()
					if v <= m || peak.CompareAndSwap(m, v) {
						break
					}
				}
			}
			outer, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
				enter()
				inner, err := scheduler.Submit(sc, func(context.Context) (int, error) {
					enter()
					defer running.Add(-1)
					return 21, nil
				})
				if err != nil {
					running.Add(-1)
					return 0, err
				}
				running.Add(-1)
				v, err := inner.Await(ctx)
				enter()
				defer running.Add(-1)
				return v * 2, err
			})
			require.NoError(t, err)
			v, err := hsAwait(t, outer)
			require.NoError(t, err)
			assert.Equal(t, 42, v)
			assert.Equal(t, int32(1), peak.Load(), "tasks running their own code at cap 1")
			assert.NoError(t, hsWait(t, sc))
			st := s.Stats()
			assert.Zero(t, st.ForceRuns)
			assert.Zero(t, st.OverCap)
			assert.Zero(t, st.InUse)
		})
	}
}

func TestHostileStructuredWaitCutShortByItsContextReturnsTheCause(t *testing.T) {
	// asyncio wait_for / Kotlin withTimeout around a join: the wait gives up
	// with the context's cause; neither Wait nor Await cancels anything.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	h, _ := func() (*lazytask.Task[int], *hsGate) {
		g := hsNewGate(t)
		h, err := scheduler.Submit(sc, g.fn)
		require.NoError(t, err)
		hsWithin(t, g.started, "start")
		return h, g
	}()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(hsCause)
	assert.Equal(t, hsCause, sc.Wait(ctx), "Wait with a canceled context")
	_, err := h.Await(ctx)
	assert.Equal(t, hsCause, err, "Await with a canceled context")
	tctx, tcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer tcancel()
	_, err = h.Await(tctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Await past its deadline")
	assert.Equal(t, lazytask.Running, h.State(), "Await never cancels the task (unlike wait_for)")
	assert.NoError(t, sc.Context().Err(), "Wait never cancels the scope")
	assert.True(t, h.Cancel(hsCause))
}

// --- CoroutineStart.LAZY ----------------------------------------------------

func TestHostileStructuredLazyTaskNeverSubmitted(t *testing.T) {
	// Kotlin: a LAZY child never started hangs its coroutineScope. Here
	// (I10, DESIGN §8): Await never starts it and returns with its context;
	// Wait does not wait for it; Shutdown cancels it with ErrScopeClosed.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(2), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope(scheduler.FailFast())
		require.NoError(t, err)
		var runs atomic.Int32
		h := scheduler.NewTask(sc, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
		var d hsDone
		h.OnDone(d.cb)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		began := time.Now()
		_, err = h.Await(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of a never-submitted lazy task")
		assert.Equal(t, time.Second, time.Since(began))
		assert.Equal(t, lazytask.Lazy, h.State(), "Await does not start or cancel it")
		assert.Equal(t, 1, sc.Stats().Lazy)
		assert.NoError(t, sc.Wait(context.Background()), "Wait does not wait for lazy tasks")
		assert.Equal(t, lazytask.Lazy, h.State())
		assert.NoError(t, sc.Shutdown(context.Background()))
		assert.Equal(t, lazytask.Canceled, h.State())
		_, err = h.Await(context.Background())
		assert.ErrorIs(t, err, lazytask.ErrScopeClosed)
		assert.Zero(t, runs.Load())
		assert.Equal(t, int32(1), d.n.Load(), "done callback")
		assert.ErrorIs(t, d.last(), lazytask.ErrScopeClosed)
		if err := sc.Enqueue(h); !errors.Is(err, scheduler.ErrNotQueued) && !errors.Is(err, scheduler.ErrClosed) {
			t.Errorf("Enqueue after the end = %v; want ErrNotQueued or ErrClosed", err)
		}
		assert.ErrorIs(t, h.Start(), lazytask.ErrStarted, "Start after the end")
	})
}

func TestHostileStructuredLazyTaskOfAFailedGroupIsCanceledWithTheError(t *testing.T) {
	// Scope.Cancel's doc: "Lazy tasks bound to the subtree end Canceled";
	// a fail-fast failure cancels the subtree with the error as the cause.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	child := hsScope(t, sc, scheduler.WithName("child"))
	var runs atomic.Int32
	lazy := scheduler.NewTask(child, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
	_, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, hsErrA })
	require.NoError(t, err)
	_, err = hsAwait(t, lazy)
	assert.ErrorIs(t, err, hsErrA)
	assert.Equal(t, lazytask.Canceled, lazy.State())
	assert.Zero(t, runs.Load())
	werr := hsWait(t, sc)
	assert.ErrorIs(t, werr, hsErrA)
	assert.Len(t, hsJoined(werr), 1, "Wait = %v", werr)
}

// --- done callbacks (invokeOnCompletion) -----------------------------------

func TestHostileStructuredDoneCallbacksRunOnceAndInOrder(t *testing.T) {
	// Kotlin invokeOnCompletion: a handler installed on a completed job is
	// invoked at once; each runs once; here in registration order, with
	// the result visible.
	s := hsSched(t)
	started := make(chan struct{})
	h, err := scheduler.Submit(s, hsUntilDone(started, nil, hsRetCause))
	require.NoError(t, err)
	var mu sync.Mutex
	var order []string
	add := func(name string) func(int, error) {
		return func(_ int, err error) {
			mu.Lock()
			order = append(order, fmt.Sprintf("%s:%v:%v", name, errors.Is(err, hsCause), h.State()))
			mu.Unlock()
		}
	}
	h.OnDone(add("before1"))
	h.OnDone(add("before2"))
	hsWithin(t, started, "start")
	h.Cancel(hsCause)
	_, _ = hsAwait(t, h)
	// Shutdown waits for the callbacks that run on the task's goroutine.
	require.NoError(t, s.Shutdown(context.Background()))
	h.OnDone(add("after"))
	mu.Lock()
	got := append([]string(nil), order...)
	mu.Unlock()
	assert.Equal(t, []string{"before1:true:canceled", "before2:true:canceled", "after:true:canceled"}, got)
}

// --- factory combinators: gather, race, as_completed -----------------------

func TestHostileStructuredGatherInAFailFastScope(t *testing.T) {
	// asyncio.gather inside a TaskGroup: one failure cancels the rest; the
	// values come back in order, errors joined in order; the scope reports
	// the real error alone.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	release, oneRan := make(chan struct{}), make(chan struct{})
	vs, err := factory.Gather(context.Background(), sc,
		func(context.Context) (int, error) { close(oneRan); return 1, nil },
		func(context.Context) (int, error) { <-release; return 0, hsErrA },
		func(ctx context.Context) (int, error) {
			<-oneRan
			close(release)
			<-ctx.Done()
			return 3, context.Cause(ctx)
		},
	)
	assert.Equal(t, []int{1, 0, 0}, vs, "values in order, zero for failures")
	assert.ErrorIs(t, err, hsErrA)
	joined := hsJoined(err)
	if assert.Len(t, joined, 2, "Gather = %v", err) {
		assert.ErrorIs(t, joined[0], hsErrA)
		assert.ErrorIs(t, joined[1], hsErrA, "the canceled one's error is the cause")
	}
	werr := hsWait(t, sc)
	assert.Len(t, hsJoined(werr), 1, "scope Wait = %v", werr)
}

func TestHostileStructuredRaceLosersAreCanceledAndDoNotFailTheScope(t *testing.T) {
	// Trio/anyio "first completed": the winner's value, the losers canceled
	// with ErrNotNeeded and ended before Race returns; their cancellation
	// is no failure of a fail-fast scope.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	var mu sync.Mutex
	var causes []error
	var started, ended atomic.Int32
	loser := func(ctx context.Context) (int, error) {
		started.Add(1)
		defer ended.Add(1)
		<-ctx.Done()
		mu.Lock()
		causes = append(causes, context.Cause(ctx))
		mu.Unlock()
		return 0, ctx.Err()
	}
	v, err := factory.Race(context.Background(), sc, loser, func(context.Context) (int, error) { return 9, nil }, loser)
	require.NoError(t, err)
	assert.Equal(t, 9, v)
	// A loser still queued when the winner ends is canceled before it
	// starts: it never runs. Each one that started has ended.
	assert.LessOrEqual(t, started.Load(), int32(2))
	assert.Equal(t, started.Load(), ended.Load(), "losers ended before Race returned")
	mu.Lock()
	for _, c := range causes {
		assert.ErrorIs(t, c, factory.ErrNotNeeded)
	}
	mu.Unlock()
	assert.NoError(t, hsWait(t, sc), "the losers' cancellation fails the scope")
	assert.NoError(t, sc.Context().Err(), "the scope is not canceled by Race")
}

func TestHostileStructuredAsCompletedYieldsInCompletionOrderAndCleansUpOnBreak(t *testing.T) {
	// asyncio.as_completed: results in completion order; breaking out
	// cancels the rest (ErrNotNeeded) and waits for them.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.FailFast())
	gates := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var ended atomic.Int32
	var mu sync.Mutex
	var causes []error
	fns := make([]func(context.Context) (int, error), 3)
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) {
			defer ended.Add(1)
			select {
			case <-gates[i]:
				return i * 10, nil
			case <-ctx.Done():
				mu.Lock()
				causes = append(causes, context.Cause(ctx))
				mu.Unlock()
				return 0, context.Cause(ctx)
			}
		}
	}
	close(gates[2])
	var got []int
	for i, r := range factory.AsCompleted(context.Background(), sc, fns...) {
		require.NoError(t, r.Err)
		assert.Equal(t, i*10, r.Value)
		got = append(got, i)
		if len(got) == 1 {
			close(gates[0])
			continue
		}
		break
	}
	assert.Equal(t, []int{2, 0}, got, "completion order")
	assert.Equal(t, int32(3), ended.Load(), "every task ended when the loop statement returned")
	mu.Lock()
	if assert.Len(t, causes, 1) {
		assert.ErrorIs(t, causes[0], factory.ErrNotNeeded)
	}
	mu.Unlock()
	assert.NoError(t, hsWait(t, sc), "AsCompleted's cleanup is no failure")
}

// --- misc --------------------------------------------------------------------

func TestHostileStructuredShutdownOfAScopeRefusesWorkAndCancelsLateOnes(t *testing.T) {
	// asyncio TaskGroup: create_task after the group is closing raises.
	// Here: Submit after Shutdown is ErrClosed, the task Canceled, never run;
	// the grace period's end cancels stragglers with ErrClosed.
	s := hsSched(t)
	sc := hsScope(t, s.Root(), scheduler.WithName("closing"))
	started := make(chan struct{})
	seen := make(chan hsSeen, 1)
	h, err := scheduler.Submit(sc, hsUntilDone(started, seen, hsRetErr))
	require.NoError(t, err)
	hsWithin(t, started, "start")
	grace, cancel := context.WithCancelCause(context.Background())
	cancel(hsCause) // no grace at all
	serr := sc.Shutdown(grace)
	assert.Equal(t, hsCause, serr, "Shutdown past its grace returns context.Cause(ctx)")
	got := <-seen
	assert.ErrorIs(t, got.cause, scheduler.ErrClosed, "straggler's cause")
	_, err = hsAwait(t, h)
	assert.ErrorIs(t, err, scheduler.ErrClosed)
	assert.Equal(t, lazytask.Canceled, h.State())
	var runs atomic.Int32
	late, err := scheduler.Submit(sc, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
	assert.ErrorIs(t, err, scheduler.ErrClosed, "Submit after Shutdown")
	assert.Equal(t, lazytask.Canceled, late.State())
	assert.Zero(t, runs.Load())
	assert.True(t, strings.Contains(sc.Name(), "closing"))
}

func TestHostileStructuredWaitLeftBehindByAnEndedTaskWaitsForTheOthers(t *testing.T) {
	// A variant of the one above: a goroutine of task A waits on the scope
	// with A's values but not its cancellation (context.WithoutCancel, as
	// Shield gives) and outlives A. Once A has ended the goroutine is
	// inside no task, so its Wait must wait for B like any other.
	synctest.Test(t, func(t *testing.T) {
		s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithLogger(hsQuietLog))
		require.NoError(t, err)
		defer func() { _ = s.Shutdown(context.Background()) }()
		sc, err := s.Root().NewScope()
		require.NoError(t, err)
		g := hsNewGateNoT()
		defer g.open()
		b, err := scheduler.Submit(sc, g.fn, lazytask.WithName("B"))
		require.NoError(t, err)
		<-g.started
		left := make(chan lazytask.State, 1)
		a, err := scheduler.Go(sc, func(ctx context.Context) error {
			go func() {
				_ = sc.Wait(context.WithoutCancel(ctx))
				left <- b.State()
			}()
			scheduler.AwaitWaiting(sc) // the goroutine waits before A ends
			return nil
		}, lazytask.WithName("A"))
		require.NoError(t, err)
		_, err = a.Await(context.Background())
		require.NoError(t, err)
		synctest.Wait()
		select {
		case st := <-left:
			g.open()
			t.Fatalf("Scope.Wait left behind by ended task A returned while sibling B is %v; want it to wait for B", st)
		default:
		}
		g.open()
		assert.True(t, (<-left).Terminal(), "B when the Wait returned")
	})
}

func TestHostileStructuredRefusedEnqueueLeavesAnUnboundTaskLazy(t *testing.T) {
	// Enqueue's doc: "on error the task is left as it was, so the caller may
	// start it, retry or cancel it."
	s := hsSched(t)
	sc := hsScope(t, s.Root())
	sc.Cancel(hsCause)
	lt := lazytask.New(func(context.Context) (int, error) { return 5, nil })
	err := sc.Enqueue(lt)
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled)
	assert.ErrorIs(t, err, hsCause)
	assert.Equal(t, lazytask.Lazy, lt.State(), "a refused task stays Lazy")
	other := hsScope(t, s.Root())
	require.NoError(t, other.Enqueue(lt), "retry in another scope")
	v, err := hsAwait(t, lt)
	assert.NoError(t, err)
	assert.Equal(t, 5, v)
}

func TestHostileStructuredSupervisorHandlerAwaitingAQueuedTaskAtCapOne(t *testing.T) {
	// I11: "a callback that awaits another task ... cannot deadlock"; the
	// ended task's slot is free before the scope's error handler runs.
	s := hsSched(t, scheduler.WithLimit(1))
	ready := make(chan struct{})
	var bh *lazytask.Task[int]
	got := make(chan error, 1)
	sc := hsScope(t, s.Root(), scheduler.Supervise(func(info lazytask.Info, err error) {
		<-ready
		ctx, cancel := context.WithTimeout(context.Background(), hsHang)
		defer cancel()
		v, aerr := bh.Await(ctx)
		if aerr == nil && v != 5 {
			aerr = fmt.Errorf("B = %d; want 5", v)
		}
		got <- aerr
	}))
	_, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 0, hsErrA })
	require.NoError(t, err)
	bh, err = scheduler.Submit(sc, func(context.Context) (int, error) { return 5, nil })
	require.NoError(t, err)
	close(ready)
	select {
	case err := <-got:
		assert.NoError(t, err, "handler's Await of the queued task")
	case <-time.After(hsHang):
		t.Fatal("the error handler's Await of a queued task deadlocked at cap 1")
	}
}
