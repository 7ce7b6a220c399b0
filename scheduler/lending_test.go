package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Invariant I9: every wait made from inside a task lends the task's slot
// while it waits, so nested work on one cap cannot deadlock, and the cap
// still holds: a task back from a wait takes a slot again before it runs
// its own code. The helpers of this file carry an "ln" prefix.

// lnInside submits, at cap 1, a task that runs body with its own context and
// returns body's error; it fails the test unless the task ends within
// cpHang.
func lnInside(t *testing.T, s *scheduler.Scheduler, body func(ctx context.Context) error) error {
	t.Helper()
	h, err := scheduler.Go(s, body, lazytask.WithName("outer"))
	require.NoError(t, err, "Submit(outer)")
	_, err = cpAwait(t, h)
	return err
}

func TestTaskWaitingForItsChildScopeLendsItsSlot(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	var kids [3]*lazytask.Task[int]
	var runs atomic.Int32
	err := lnInside(t, s, func(ctx context.Context) error {
		child, err := s.Root().NewScope(scheduler.WithName("kids"))
		if err != nil {
			return err
		}
		for i := range kids {
			if kids[i], err = scheduler.Submit(child, scCount(&runs)); err != nil {
				return err
			}
		}
		return child.Wait(ctx)
	})
	require.NoError(t, err, "child.Wait(ctx) inside the outer task")
	assert.Equal(t, int32(3), runs.Load(), "tasks of the child scope run")
	for i, k := range kids {
		assert.Equalf(t, lazytask.Succeeded, k.State(), "kids[%d].State()", i)
	}
	st := s.Stats()
	assert.Equal(t, uint64(0), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
}

func TestTaskWaitingForItsSchedulerLendsItsSlot(t *testing.T) {
	// A task that calls Scheduler.Wait or Root().Wait with its own context
	// while a task is queued behind it: the queued task runs, and the wait
	// returns without waiting for the task that makes it.
	for _, tc := range []struct {
		name string
		wait func(s *scheduler.Scheduler, ctx context.Context) error
	}{
		{"Scheduler.Wait", func(s *scheduler.Scheduler, ctx context.Context) error { return s.Wait(ctx) }},
		{"Root().Wait", func(s *scheduler.Scheduler, ctx context.Context) error { return s.Root().Wait(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cpSched(t, scheduler.WithLimit(1))
			started, proceed := make(chan struct{}), make(chan struct{})
			var queuedEnded bool
			var q *lazytask.Task[int]
			var runs atomic.Int32
			outer, err := scheduler.Go(s, func(ctx context.Context) error {
				close(started)
				<-proceed
				err := tc.wait(s, ctx)
				queuedEnded = q.State().Terminal()
				return err
			}, lazytask.WithName("outer"))
			require.NoError(t, err, "Submit(outer)")
			cpWithin(t, started, "outer starting")
			q, err = scheduler.Submit(s, scCount(&runs), lazytask.WithName("queued"))
			require.NoError(t, err, "Submit(queued)")
			require.Equal(t, lazytask.Queued, q.State(), "queued.State() behind outer at cap 1")
			close(proceed)
			_, err = cpAwait(t, outer)
			require.NoErrorf(t, err, "%s(ctx) inside outer", tc.name)
			assert.Truef(t, queuedEnded, "queued task ended before %s returned = false; want true", tc.name)
			assert.Equal(t, int32(1), runs.Load(), "queued task runs")
			assert.Equal(t, uint64(0), s.Stats().ForceRuns, "Stats().ForceRuns")
		})
	}
}

func TestTaskShuttingItsChildScopeDownLendsItsSlot(t *testing.T) {
	// The outer task shuts down a child scope it made, with a grace period
	// bounded by its own context: the task queued there runs instead of
	// being canceled when the grace period ends.
	s := cpSched(t, scheduler.WithLimit(1))
	var runs atomic.Int32
	var q *lazytask.Task[int]
	err := lnInside(t, s, func(ctx context.Context) error {
		child, err := s.Root().NewScope(scheduler.WithName("child"))
		if err != nil {
			return err
		}
		if q, err = scheduler.Submit(child, scCount(&runs), lazytask.WithName("queued")); err != nil {
			return err
		}
		grace, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return child.Shutdown(grace)
	})
	require.NoError(t, err, "child.Shutdown(grace from the task's ctx) inside outer")
	require.NotNil(t, q, "queued handle")
	assert.Equal(t, lazytask.Succeeded, q.State(), "queued.State()")
	assert.Equal(t, int32(1), runs.Load(), "queued task runs")
}

// lnFan counts the tasks of a fan-out that run their own code: one enters
// when its function starts and after each Await returns, and leaves before
// each Await and before it returns.
type lnFan struct {
	s                *scheduler.Scheduler
	own              scPeak
	overCap, maxOver atomic.Int64
}

func (f *lnFan) enter() {
	f.own.enter()
	if n := int64(f.s.Stats().OverCap); n > 0 {
		f.overCap.Add(1)
		for {
			m := f.maxOver.Load()
			if n <= m || f.maxOver.CompareAndSwap(m, n) {
				break
			}
		}
	}
}

// node runs one node of a binary fan-out of the given depth and returns
// the number of nodes of its subtree.
func (f *lnFan) node(ctx context.Context, depth int) (int, error) {
	f.enter()
	if depth == 0 {
		f.own.leave()
		return 1, nil
	}
	var kids [2]*lazytask.Task[int]
	for i := range kids {
		var err error
		kids[i], err = scheduler.Submit(f.s, func(ctx context.Context) (int, error) { return f.node(ctx, depth-1) })
		if err != nil {
			f.own.leave()
			return 0, err
		}
	}
	n := 1
	for _, k := range kids {
		f.own.leave()
		v, err := k.Await(ctx)
		f.enter()
		if err != nil {
			f.own.leave()
			return 0, err
		}
		n += v
	}
	f.own.leave()
	return n, nil
}

// lnRace reports whether the test binary was built with -race.
func lnRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, st := range bi.Settings {
		if st.Key == "-race" {
			return st.Value == "true"
		}
	}
	return false
}

func TestNestedFanOutOnCapTwoKeepsTheCap(t *testing.T) {
	// A binary fan-out of depth 15 (65,535 tasks) at cap 2: each inner node
	// submits two children to the same scheduler and awaits both with its
	// own context. It completes; no more than 2 tasks run their own code at
	// once, nothing runs over the cap, nothing is force-run. Depth 12 (8,191
	// tasks) with -short or -race: depth 15 under -race takes about 11 s and
	// 2.1 GB (the parked awaiters) on the 2-core VM, against 2 s and 170 MB
	// without it.
	depth := 15
	if testing.Short() || lnRace() {
		depth = 12
	}
	s := cpSched(t, scheduler.WithLimit(2))
	f := &lnFan{s: s}
	root, err := scheduler.Submit(s, func(ctx context.Context) (int, error) { return f.node(ctx, depth) })
	require.NoError(t, err, "Submit(root)")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	n, err := root.Await(ctx)
	require.NoError(t, err, "root.Await (a deadline here is a deadlock)")
	want := 1<<(depth+1) - 1
	t.Logf("depth %d: %d tasks in %v; peak running own code %d (cap 2); samples over the cap %d, peak Stats().OverCap %d",
		depth, n, time.Since(start), f.own.max.Load(), f.overCap.Load(), f.maxOver.Load())
	assert.Equal(t, want, n, "nodes of the fan-out")
	assert.LessOrEqualf(t, f.own.max.Load(), int64(2), "peak tasks running their own code = %d; want <= 2 (the cap)", f.own.max.Load())
	assert.Equalf(t, int64(0), f.maxOver.Load(), "peak Stats().OverCap seen inside tasks = %d; want 0", f.maxOver.Load())
	st := s.Stats()
	assert.Equal(t, uint64(0), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, uint64(want), st.Succeeded, "Stats().Succeeded")
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
}

func TestTaskShuttingItsOwnScopeDownLendsItsSlot(t *testing.T) {
	// Shutdown of the task's own scope, or of the whole scheduler, made
	// from inside with the task's context: the queued task runs, and
	// Shutdown returns without waiting for the task that calls it.
	for _, tc := range []struct {
		name string
		shut func(s *scheduler.Scheduler, sc *scheduler.Scope, ctx context.Context) error
	}{
		{"Scope.Shutdown of its own scope", func(_ *scheduler.Scheduler, sc *scheduler.Scope, ctx context.Context) error {
			return sc.Shutdown(ctx)
		}},
		{"Scheduler.Shutdown", func(s *scheduler.Scheduler, _ *scheduler.Scope, ctx context.Context) error {
			return s.Shutdown(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cpSched(t, scheduler.WithLimit(1))
			sc := scChild(t, s.Root(), scheduler.WithName("own"))
			var runs atomic.Int32
			var q *lazytask.Task[int]
			var queuedEnded bool
			outer, err := scheduler.Go(sc, func(ctx context.Context) error {
				var err error
				if q, err = scheduler.Submit(sc, scCount(&runs), lazytask.WithName("queued")); err != nil {
					return err
				}
				grace, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				err = tc.shut(s, sc, grace)
				queuedEnded = q.State().Terminal()
				return err
			}, lazytask.WithName("outer"))
			require.NoError(t, err, "Submit(outer)")
			_, err = cpAwait(t, outer)
			require.NoErrorf(t, err, "%s(grace from the task's ctx) inside outer", tc.name)
			assert.Truef(t, queuedEnded, "queued task ended before %s returned = false; want true", tc.name)
			assert.Equal(t, lazytask.Succeeded, q.State(), "queued.State()")
			assert.Equal(t, int32(1), runs.Load(), "queued task runs")
			if err := cpShutdown(t, s, context.Background()); err != nil {
				// A second Shutdown of the scheduler says it is closed.
				assert.ErrorIsf(t, err, scheduler.ErrClosed, "Shutdown after %s", tc.name)
			}
		})
	}
}

func TestTaskBackFromAWaitRunsAheadOfQueuedTasks(t *testing.T) {
	// Cap 1: P awaits C with its own context; Q is queued while C runs.
	// When C ends, P's wait ends and P takes the slot back ahead of Q: Q
	// starts only after P has ended, and never beside it.
	const rounds = 20
	var qFirst int
	for i := range rounds {
		s := cpSched(t, scheduler.WithLimit(1))
		gc := scNewGate(t)
		var pBack, qStart atomic.Int64 // order stamps
		var stamp atomic.Int64
		pWaiting := make(chan struct{})
		var c *lazytask.Task[int]
		p, err := scheduler.Go(s, func(ctx context.Context) error {
			var err error
			if c, err = scheduler.Submit(s, gc.fn, lazytask.WithName("C")); err != nil {
				return err
			}
			close(pWaiting)
			_, err = c.Await(ctx)
			pBack.Store(stamp.Add(1))
			return err
		}, lazytask.WithName("P"))
		require.NoError(t, err, "Submit(P)")
		cpWithin(t, pWaiting, "P submitting C")
		cpWithin(t, gc.started, "C starting while P waits")
		q, err := scheduler.Go(s, func(context.Context) error {
			qStart.Store(stamp.Add(1))
			return nil
		}, lazytask.WithName("Q"))
		require.NoError(t, err, "Submit(Q)")
		require.Equal(t, lazytask.Queued, q.State(), "Q.State() while C holds the slot")
		gc.open()
		_, err = cpAwait(t, p)
		require.NoError(t, err, "P.Await")
		_, err = cpAwait(t, q)
		require.NoError(t, err, "Q.Await")
		if qStart.Load() < pBack.Load() {
			qFirst++
		}
		if i == 0 {
			assert.Falsef(t, q.Timings().Started.Before(p.Timings().Finished),
				"Q.Timings().Started = %v; want not before P finished (%v): P came back ahead of Q", q.Timings().Started, p.Timings().Finished)
		}
		assert.Equal(t, uint64(0), s.Stats().ForceRuns, "Stats().ForceRuns")
		require.NoError(t, cpShutdown(t, s, context.Background()), "Shutdown")
	}
	assert.Equalf(t, 0, qFirst, "rounds where queued Q started before P came back from its Await = %d of %d; want 0", qFirst, rounds)
}

func TestTaskBackFromAWaitAfterResizeBelowItsWeightGoesOn(t *testing.T) {
	// P (weight 2, cap 2) awaits C with its own context; meanwhile the cap
	// is resized to 1, below P's weight. When C ends, P can never take its
	// 2 slots back: it must go on (over the cap, counted) instead of
	// waiting forever.
	s := cpSched(t, scheduler.WithLimit(2))
	lnResizeBelowWeightWhileWaiting(t, s, s.Root())
}

func TestTaskBackFromAWaitAfterScopeResizeBelowItsWeightGoesOn(t *testing.T) {
	// The same in a scope with a cap of its own under an unlimited root
	// (no goroutine lingers there to admit work): P must go on.
	s := cpSched(t, scheduler.Unlimited())
	sc := scChild(t, s.Root(), scheduler.WithLimit(2), scheduler.WithName("capped"))
	t.Cleanup(func() {
		if t.Failed() {
			_ = sc.Resize(2) // lets a P stuck taking its slots back go on, so Shutdown ends
		}
	})
	lnResizeBelowWeightWhileWaiting(t, s, sc)
}

// lnResizeBelowWeightWhileWaiting runs P (weight 2) in sc, awaiting C with
// its own context, resizes sc to 1 while P waits, and checks that P ends
// and the slots come back.
func lnResizeBelowWeightWhileWaiting(t *testing.T, s *scheduler.Scheduler, sc *scheduler.Scope) {
	t.Helper()
	gc := scNewGate(t)
	pWaiting := make(chan struct{})
	p, err := scheduler.Go(sc, func(ctx context.Context) error {
		c, err := scheduler.Submit(sc, gc.fn, lazytask.WithName("C"))
		if err != nil {
			return err
		}
		close(pWaiting)
		_, err = c.Await(ctx)
		return err
	}, lazytask.WithName("P"), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(P)")
	cpWithin(t, pWaiting, "P submitting C")
	cpWithin(t, gc.started, "C starting while P waits")
	require.NoError(t, sc.Resize(1), "Resize(1) of %s", sc.Name())
	gc.open()
	_, err = cpAwait(t, p)
	require.NoError(t, err, "P.Await")
	assert.Equal(t, 0, s.Stats().InUse, "Stats().InUse at the end")
}

func TestTaskWaitingFromTwoGoroutinesLendsOnce(t *testing.T) {
	// Two goroutines of P await two children with P's context at once: the
	// slot is lent once and taken back once, so the children run and the
	// counters end at zero.
	s := cpSched(t, scheduler.WithLimit(1))
	var peakOwn scPeak
	err := lnInside(t, s, func(ctx context.Context) error {
		var kids [2]*lazytask.Task[int]
		for i := range kids {
			var err error
			kids[i], err = scheduler.Submit(s, func(context.Context) (int, error) {
				peakOwn.enter()
				defer peakOwn.leave()
				return 1, nil
			})
			if err != nil {
				return err
			}
		}
		errs := make(chan error, len(kids))
		for _, k := range kids {
			go func() {
				_, err := k.Await(ctx)
				errs <- err
			}()
		}
		for range kids {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err, "outer with two awaiting goroutines")
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap at the end")
	assert.Equal(t, uint64(0), st.ForceRuns, "Stats().ForceRuns")
	assert.LessOrEqual(t, peakOwn.max.Load(), int64(1), "peak children running at cap 1")
}

func TestNestedFanOutThroughScopeWaitKeepsTheCap(t *testing.T) {
	// The fan-out again, each inner node waiting for its two children with
	// Scope.Wait on a child scope of its own (depth 10, 2,047 tasks, cap 2).
	const depth = 10
	s := cpSched(t, scheduler.WithLimit(2))
	var own scPeak
	var maxOver atomic.Int64
	var node func(ctx context.Context, sp scheduler.Spawner, d int) error
	enter := func() {
		own.enter()
		if n := int64(s.Stats().OverCap); n > maxOver.Load() {
			maxOver.Store(n)
		}
	}
	var nodes atomic.Int64
	node = func(ctx context.Context, sp scheduler.Spawner, d int) error {
		enter()
		nodes.Add(1)
		if d == 0 {
			own.leave()
			return nil
		}
		var sc *scheduler.Scope
		var err error
		switch p := sp.(type) {
		case *scheduler.Scope:
			sc, err = p.NewScope()
		case *scheduler.Scheduler:
			sc, err = p.Root().NewScope()
		}
		if err != nil {
			own.leave()
			return err
		}
		for range 2 {
			if _, err := scheduler.Go(sc, func(ctx context.Context) error { return node(ctx, sc, d-1) }); err != nil {
				own.leave()
				return err
			}
		}
		own.leave()
		err = sc.Wait(ctx)
		enter()
		own.leave()
		return err
	}
	root, err := scheduler.Go(s, func(ctx context.Context) error { return node(ctx, s, depth) })
	require.NoError(t, err, "Submit(root)")
	_, err = cpAwait(t, root)
	require.NoError(t, err, "root.Await (a timeout here is a deadlock)")
	t.Logf("depth %d through Scope.Wait: %d tasks; peak running own code %d (cap 2); peak Stats().OverCap %d", depth, nodes.Load(), own.max.Load(), maxOver.Load())
	assert.Equal(t, int64(1<<(depth+1)-1), nodes.Load(), "nodes of the fan-out")
	assert.LessOrEqualf(t, own.max.Load(), int64(2), "peak tasks running their own code = %d; want <= 2", own.max.Load())
	assert.Equal(t, int64(0), maxOver.Load(), "peak Stats().OverCap seen inside tasks")
	assert.Equal(t, uint64(0), s.Stats().ForceRuns, "Stats().ForceRuns")
}

// lnCutShort runs, at cap 1, an outer task that submits a child blocked on
// its context and a queued task behind it, then waits for the child with
// wait, giving it a context that the child itself cancels once it runs, so
// the wait is cut short while the child holds the only slot. Then after
// runs in the outer task (with its own context); it must not hang. It
// returns the child and the queued task.
func lnCutShort(t *testing.T, s *scheduler.Scheduler,
	wait func(wctx context.Context, child *lazytask.Task[struct{}]) error,
	after func(ctx context.Context, child, queued *lazytask.Task[struct{}]) error,
) (*lazytask.Task[struct{}], *lazytask.Task[struct{}]) {
	t.Helper()
	var child, queued *lazytask.Task[struct{}]
	err := lnInside(t, s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		var err error
		child, err = scheduler.Go(s, func(cctx context.Context) error {
			cut()
			<-cctx.Done()
			return context.Cause(cctx)
		}, lazytask.WithName("child"))
		if err != nil {
			return err
		}
		if queued, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("queued")); err != nil {
			return err
		}
		if err := wait(wctx, child); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("wait cut short = %v; want context.Canceled", err)
		}
		if st := s.Stats(); st.OverCap != 1 || st.InUse != 1 {
			return fmt.Errorf("after the cut-short wait: OverCap %d, InUse %d; want 1 and 1 (the child's slot)", st.OverCap, st.InUse)
		}
		if queued.State() != lazytask.Queued {
			return fmt.Errorf("queued task %v while its caller runs over the cap; want Queued", queued.State())
		}
		return after(ctx, child, queued)
	})
	require.NoError(t, err, "outer task")
	return child, queued
}

func TestTaskWhoseAwaitIsCutShortCancelsTheChildAtCapOne(t *testing.T) {
	// Await with a timeout, then cancel the straggler: the child holds the
	// slot the parent lent, so the parent goes on over the cap, and takes
	// the slot back the moment the child ends, ahead of the queued task.
	s := cpSched(t, scheduler.WithLimit(1))
	child, queued := lnCutShort(t, s,
		func(wctx context.Context, child *lazytask.Task[struct{}]) error { return child.Wait(wctx) },
		func(ctx context.Context, child, queued *lazytask.Task[struct{}]) error {
			child.Cancel(nil)
			<-child.Done() // a plain receive: nothing is lent
			if st := s.Stats(); st.OverCap != 0 || st.InUse != 1 {
				return fmt.Errorf("after the child ended: OverCap %d, InUse %d; want 0 and 1 (the slot back to the parent)", st.OverCap, st.InUse)
			}
			if queued.State() != lazytask.Queued {
				return fmt.Errorf("queued task %v while the parent holds the slot; want Queued", queued.State())
			}
			return nil
		})
	assert.Equal(t, lazytask.Canceled, child.State(), "child.State()")
	_, err := cpAwait(t, queued)
	require.NoError(t, err, "the queued task runs once the parent ends")
	st := s.Stats()
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap at the end")
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
}

func TestTaskBackOverTheCapWaitsAgainAndTakesTheSlotBack(t *testing.T) {
	// After a cut-short wait the parent, over the cap, waits for the child
	// again with its own context: that wait lends nothing it does not
	// hold, and its end gives the parent the child's slot.
	s := cpSched(t, scheduler.WithLimit(1))
	lnCutShort(t, s,
		func(wctx context.Context, child *lazytask.Task[struct{}]) error { return child.Wait(wctx) },
		func(ctx context.Context, child, queued *lazytask.Task[struct{}]) error {
			child.Cancel(nil)
			if err := child.Wait(ctx); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("child.Wait(ctx) = %v; want context.Canceled", err)
			}
			if st := s.Stats(); st.OverCap != 0 || st.InUse != 1 {
				return fmt.Errorf("after the second wait: OverCap %d, InUse %d; want 0 and 1", st.OverCap, st.InUse)
			}
			if queued.State() != lazytask.Queued {
				return fmt.Errorf("queued task %v while the parent holds the slot; want Queued", queued.State())
			}
			return nil
		})
	require.NoError(t, s.Wait(context.Background()))
	st := s.Stats()
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap at the end")
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
	assert.Equal(t, uint64(0), st.ForceRuns, "Stats().ForceRuns")
}

func TestTaskEndingOverTheCapGivesNothingBack(t *testing.T) {
	// The parent ends while still over the cap (the child still runs): it
	// gives back no slot it does not hold, and the child's end frees the
	// one slot for the queued task.
	s := cpSched(t, scheduler.WithLimit(1))
	var kid *lazytask.Task[struct{}]
	child, queued := lnCutShort(t, s,
		func(wctx context.Context, child *lazytask.Task[struct{}]) error { return child.Wait(wctx) },
		func(ctx context.Context, child, queued *lazytask.Task[struct{}]) error { kid = child; return nil })
	st := s.Stats()
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap once the parent ended")
	assert.Equal(t, 1, st.InUse, "Stats().InUse: the child's slot")
	assert.Equal(t, lazytask.Queued, queued.State(), "queued task while the child holds the slot")
	kid.Cancel(nil)
	_, err := cpAwait(t, queued)
	require.NoError(t, err, "the queued task runs once the child ends")
	assert.Equal(t, lazytask.Canceled, child.State(), "child.State()")
}

func TestScopeWaitCutShortLetsTheTaskCancelTheScopeAtCapOne(t *testing.T) {
	// Scope.Wait with a deadline, then cancel what is left: the same for
	// a scope's tasks.
	s := cpSched(t, scheduler.WithLimit(1))
	var kids *scheduler.Scope
	lnCutShort(t, s,
		func(wctx context.Context, child *lazytask.Task[struct{}]) error {
			return s.Root().Wait(wctx)
		},
		func(ctx context.Context, child, queued *lazytask.Task[struct{}]) error {
			var err error
			kids, err = s.Root().NewScope(scheduler.WithName("kids"))
			if err != nil {
				return err
			}
			child.Cancel(nil)
			<-child.Done()
			if st := s.Stats(); st.OverCap != 0 {
				return fmt.Errorf("after the child ended: OverCap %d; want 0", st.OverCap)
			}
			return nil
		})
	require.NotNil(t, kids)
	require.NoError(t, s.Wait(context.Background()))
	assert.Equal(t, 0, s.Stats().OverCap, "Stats().OverCap at the end")
}
