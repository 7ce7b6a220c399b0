package scheduler_test

import (
	"context"
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
