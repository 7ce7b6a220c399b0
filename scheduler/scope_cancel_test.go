package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Issue 3, item 5: cancellation, deadlines and shielding.

func TestScopeCancelIsLevelTriggered(t *testing.T) {
	s := scSched(t)
	sc := scChild(t, s.Root(), scheduler.WithName("sc"))
	grandchild := scChild(t, scChild(t, sc), scheduler.WithName("grandchild"))
	cause := errors.New("tenant deleted")
	sc.Cancel(cause)
	sc.Cancel(errors.New("a later cause")) // the first cause stays

	var runs atomic.Int32
	for _, sp := range []*scheduler.Scope{sc, grandchild} {
		h, err := scheduler.Submit(sp, scCount(&runs))
		assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit(%s) after Cancel", sp.Name())
		assert.ErrorIs(t, err, cause, "Submit(%s) after Cancel", sp.Name())
		assert.Equal(t, lazytask.Canceled, h.State(), "State() of a task submitted to canceled %s", sp.Name())
		assert.ErrorIs(t, h.Err(), scheduler.ErrScopeCanceled, "Err() of a task submitted to canceled %s", sp.Name())
		assert.ErrorIs(t, h.Err(), cause, "Err() of a task submitted to canceled %s", sp.Name())
	}
	lazy := scheduler.NewTask(sc, scCount(&runs))
	assert.Equal(t, lazytask.Canceled, lazy.State(), "State() of NewTask in a canceled scope")
	assert.ErrorIs(t, lazy.Err(), scheduler.ErrScopeCanceled, "Err() of NewTask in a canceled scope")
	assert.ErrorIs(t, lazy.Start(), lazytask.ErrStarted, "Start() of NewTask in a canceled scope")

	free := lazytask.New(scCount(&runs))
	assert.ErrorIs(t, sc.Enqueue(free), scheduler.ErrScopeCanceled, "Enqueue into a canceled scope")
	assert.ErrorIs(t, sc.Force(free), scheduler.ErrScopeCanceled, "Force into a canceled scope")
	assert.Equal(t, lazytask.Lazy, free.State(), "a refused Lazy task is left as it was")
	_, err := sc.NewScope()
	assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "NewScope of a canceled scope")

	assert.True(t, sc.Snapshot().Canceled, "Snapshot().Canceled")
	assert.Equal(t, cause, context.Cause(sc.Context()), "context.Cause(scope ctx)")
	assert.Equal(t, cause, context.Cause(grandchild.Context()), "context.Cause(grandchild ctx)")
	assert.Zero(t, runs.Load(), "runs")
	assert.Zero(t, s.Stats().Submitted, "Stats().Submitted")

	// The root and a sibling scope go on.
	h, err := scheduler.Submit(s, scCount(&runs))
	require.NoError(t, err, "Submit to the root after a child was canceled")
	_, err = h.Await(context.Background())
	assert.NoError(t, err)
}

func TestScopeCancelGivesItsCauseToEveryRunningTaskOfTheSubtree(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	parent := scChild(t, s.Root(), scheduler.WithName("parent"))
	child := scChild(t, parent, scheduler.WithName("child"))
	grandchild := scChild(t, child, scheduler.WithName("grandchild"))
	other := scChild(t, s.Root(), scheduler.WithName("other"))

	type task struct {
		h    *lazytask.Task[int]
		seen <-chan scCtxSeen
	}
	var tasks []task
	for _, sc := range []*scheduler.Scope{parent, child, grandchild} {
		h, seen := scUntilCanceled(t, sc)
		tasks = append(tasks, task{h, seen})
	}
	otherTask, _ := scHold(t, other)

	cause := errors.New("operator abort")
	parent.Cancel(cause)
	for i, tk := range tasks {
		got := <-tk.seen
		assert.Equal(t, context.Canceled, got.err, "ctx.Err() of task %d", i)
		assert.Equal(t, cause, got.cause, "context.Cause(ctx) of task %d", i)
		_, err := tk.h.Await(context.Background())
		assert.ErrorIs(t, err, cause, "Await of task %d", i)
		assert.Equal(t, lazytask.Canceled, tk.h.State(), "State() of task %d", i)
	}
	assert.Equal(t, lazytask.Running, otherTask.State(), "a task of a sibling scope goes on")
	assert.NoError(t, other.Context().Err(), "sibling scope ctx.Err()")
}

func TestScopeTimeoutCancelsQueuedAndRunningTasksOnTheFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t, scheduler.WithLimit(8))
		start := time.Now()
		sc := scChild(t, s.Root(), scheduler.WithName("timed"), scheduler.WithLimit(1), scheduler.WithTimeout(10*time.Second))
		deadlines := make(chan time.Time, 1)
		started := make(chan struct{})
		seen := make(chan scCtxSeen, 1)
		release := make(chan struct{})
		running, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
			d, _ := ctx.Deadline()
			deadlines <- d
			close(started)
			<-ctx.Done()
			seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
			// Hold the slot until the queued task has been canceled: see
			// TestScopeTimedOutScopeRefusesWorkAtOnce for why.
			<-release
			return 0, ctx.Err()
		})
		require.NoError(t, err)
		<-started
		var runs atomic.Int32
		queued, err := scheduler.Submit(sc, scCount(&runs))
		require.NoError(t, err)

		got := <-seen
		_, err = queued.Await(context.Background())
		close(release)
		assert.Equal(t, 10*time.Second, time.Since(start), "time until the running task saw its scope time out")
		assert.Equal(t, context.DeadlineExceeded, got.err, "running task ctx.Err()")
		assert.Equal(t, context.DeadlineExceeded, got.cause, "running task context.Cause(ctx)")
		if d := <-deadlines; !d.Equal(start.Add(10 * time.Second)) {
			t.Errorf("running task ctx.Deadline() = %v; want start + 10s = %v", d, start.Add(10*time.Second))
		}
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of the queued task")
		assert.Equal(t, lazytask.Canceled, queued.State(), "State() of the queued task")
		_, err = running.Await(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of the running task")
		assert.Zero(t, runs.Load(), "runs of the queued task")
		assert.True(t, sc.Snapshot().Canceled, "Snapshot().Canceled of a timed-out scope")
		_, err = scheduler.Submit(sc, scCount(&runs))
		assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit after the timeout")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Submit after the timeout")
	})
}

func TestScopeDeadlineCancelsTheTasksOfItsSubtreeOnTheFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t, scheduler.WithLimit(8))
		deadline := time.Now().Add(5 * time.Second)
		sc := scChild(t, s.Root(), scheduler.WithName("dl"), scheduler.WithDeadline(deadline))
		child := scChild(t, sc, scheduler.WithName("child"), scheduler.WithLimit(1))
		release := make(chan struct{})
		started := make(chan struct{})
		seen := make(chan scCtxSeen, 1)
		running, err := scheduler.Submit(child, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
			<-release // hold the slot until the queued task has been canceled
			return 0, ctx.Err()
		})
		require.NoError(t, err)
		<-started
		var runs atomic.Int32
		queued, err := scheduler.Submit(child, scCount(&runs))
		require.NoError(t, err)
		lazy := scheduler.NewTask(child, scCount(&runs))
		other, _ := scHold(t, s) // outside the deadline scope

		got := <-seen
		_, _ = queued.Await(context.Background())
		close(release)
		if now := time.Now(); !now.Equal(deadline) {
			t.Errorf("time when the child's task saw the deadline = %v; want the deadline %v", now, deadline)
		}
		assert.Equal(t, context.DeadlineExceeded, got.err, "child task ctx.Err()")
		assert.Equal(t, context.DeadlineExceeded, got.cause, "child task context.Cause(ctx)")
		_, err = running.Await(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of the running task")
		for name, h := range map[string]*lazytask.Task[int]{"queued": queued, "lazy": lazy} {
			_, err := h.Await(context.Background())
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Await of the %s task", name)
			assert.Equal(t, lazytask.Canceled, h.State(), "State() of the %s task", name)
		}
		assert.Zero(t, runs.Load(), "runs")
		assert.Equal(t, lazytask.Running, other.State(), "a task outside the scope goes on")
	})
}

func TestShieldGivesCleanupALiveContextBoundedByItsOwnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t)
		sc := scChild(t, s.Root(), scheduler.WithName("sc"))
		type result struct {
			errAtStart error
			self       lazytask.Handle
			deadline   time.Time
			waited     time.Duration
			shieldErr  error
			noTimeout  bool
		}
		out := make(chan result, 1)
		started := make(chan struct{})
		h, err := scheduler.Submit(sc, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			var r result
			r.shieldErr = scheduler.Shield(ctx, 3*time.Second, func(sctx context.Context) error {
				r.errAtStart = sctx.Err()
				r.self = lazytask.HandleOf(sctx)
				r.deadline, _ = sctx.Deadline()
				t0 := time.Now()
				<-sctx.Done()
				r.waited = time.Since(t0)
				return sctx.Err()
			})
			_ = scheduler.Shield(ctx, 0, func(sctx context.Context) error {
				_, has := sctx.Deadline()
				r.noTimeout = !has && sctx.Done() == nil && sctx.Err() == nil
				return nil
			})
			out <- r
			return 0, context.Cause(ctx)
		})
		require.NoError(t, err)
		<-started
		canceledAt := time.Now()
		sc.Cancel(errors.New("stop"))
		r := <-out
		assert.NoError(t, r.errAtStart, "shielded ctx.Err() inside a canceled task")
		assert.Equal(t, lazytask.Handle(h), r.self, "lazytask.HandleOf(shielded ctx): values are kept")
		assert.True(t, r.deadline.Equal(canceledAt.Add(3*time.Second)), "shielded ctx.Deadline() = %v; want %v", r.deadline, canceledAt.Add(3*time.Second))
		assert.Equal(t, 3*time.Second, r.waited, "time the cleanup had")
		assert.ErrorIs(t, r.shieldErr, context.DeadlineExceeded, "Shield returns fn's error")
		assert.True(t, r.noTimeout, "Shield with timeout 0 gives a context that never ends")
		_, err = h.Await(context.Background())
		assert.EqualError(t, err, "stop", "Await of the canceled task")
	})
}

// Issue 3, item 6: lazy tasks made in a scope (I10).

func TestScopeShutdownCancelsANeverStartedTaskWithErrScopeClosedAndWakesItsAwaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t)
		sc := scChild(t, s.Root(), scheduler.WithName("sc"))
		grandchild := scChild(t, scChild(t, s.Root(), scheduler.WithName("other")), scheduler.WithName("deep"))
		var runs atomic.Int32
		h := scheduler.NewTask(sc, scCount(&runs), lazytask.WithName("never started"))
		deep := scheduler.NewTask(grandchild, scCount(&runs))
		require.Equal(t, lazytask.Lazy, h.State(), "State() after NewTask")
		awaited := make(chan error, 1)
		go func() { _, err := h.Await(context.Background()); awaited <- err }()
		called := make(chan error, 1)
		h.OnDone(func(_ int, err error) { called <- err })
		synctest.Wait()
		select {
		case err := <-awaited:
			t.Fatalf("Await of a Lazy task returned %v before its scope closed; want it to wait", err)
		default:
		}

		require.NoError(t, sc.Shutdown(context.Background()), "sc.Shutdown")
		err := <-awaited
		assert.ErrorIs(t, err, lazytask.ErrScopeClosed, "Await after the scope closed")
		assert.NotErrorIs(t, err, scheduler.ErrClosed, "the cause of a never-started task is its own")
		assert.ErrorIs(t, <-called, lazytask.ErrScopeClosed, "OnDone callback's err")
		assert.Equal(t, lazytask.Canceled, h.State(), "State()")

		require.NoError(t, s.Shutdown(context.Background()), "Scheduler.Shutdown")
		_, err = deep.Await(context.Background())
		assert.ErrorIs(t, err, lazytask.ErrScopeClosed, "Await of a Lazy task of a grandchild after Scheduler.Shutdown")
		assert.Zero(t, runs.Load(), "runs")
	})
}

func TestScopeNewTaskThenEnqueueRunsInItsScope(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	sc := scChild(t, s.Root(), scheduler.WithName("bound"), scheduler.WithLimit(1))
	other := scChild(t, s.Root(), scheduler.WithName("other"))
	g := scNewGate(t)
	seen := make(chan scCtxSeen, 1)
	h := scheduler.NewTask(sc, func(ctx context.Context) (int, error) {
		close(g.started)
		<-g.release
		<-ctx.Done()
		seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
		return 0, context.Cause(ctx)
	}, lazytask.WithName("bound-task"))
	assert.Equal(t, 1, sc.Snapshot().Lazy, "sc's Lazy count after NewTask")

	assert.ErrorIs(t, s.Enqueue(h), scheduler.ErrForeignHandle, "root Enqueue of a task bound to sc")
	assert.ErrorIs(t, other.Enqueue(h), scheduler.ErrForeignHandle, "other.Enqueue of a task bound to sc")
	assert.Equal(t, lazytask.Lazy, h.State(), "State() after refused Enqueues")

	holder, hg := scHold(t, sc)
	require.NoError(t, sc.Enqueue(h), "sc.Enqueue of its own task")
	assert.Equal(t, lazytask.Queued, h.State(), "State() while sc's cap is taken: the bound task obeys sc's cap")
	assert.ErrorIs(t, sc.Enqueue(h), scheduler.ErrNotQueued, "second Enqueue")
	hg.open()
	_, _ = holder.Await(context.Background())
	<-g.started
	snap := sc.Snapshot()
	require.Len(t, snap.Tasks, 1, "tasks of sc")
	assert.Equal(t, "bound-task", snap.Tasks[0].Name, "sc's running task")
	assert.Equal(t, lazytask.Running, snap.Tasks[0].State, "sc's running task State")
	assert.Zero(t, snap.Lazy, "sc's Lazy count after Enqueue")

	cause := errors.New("sc stopped")
	g.open()
	sc.Cancel(cause)
	got := <-seen
	assert.Equal(t, cause, got.cause, "context.Cause(ctx) of the bound task when sc is canceled")
}

func TestScopeNewTaskThenStartForceRunsItInItsScope(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(4))
	sc := scChild(t, s.Root(), scheduler.WithName("bound"), scheduler.WithLimit(1))
	_, _ = scHold(t, sc)
	started := make(chan struct{})
	seen := make(chan scCtxSeen, 1)
	h := scheduler.NewTask(sc, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		seen <- scCtxSeen{ctx.Err(), context.Cause(ctx)}
		return 0, context.Cause(ctx)
	}, lazytask.WithName("started"))
	require.NoError(t, h.Start(), "Start() of a bound Lazy task")
	<-started // runs although sc's cap is taken
	st := s.Stats()
	assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, 1, st.OverCap, "Stats().OverCap")
	assert.True(t, h.Info().OverCap, "Info().OverCap")
	snap := sc.Snapshot()
	assert.Equal(t, 2, snap.Running, "sc's Running: the started task runs in sc")
	assert.Zero(t, snap.Lazy, "sc's Lazy count after Start")
	assert.ErrorIs(t, h.Start(), lazytask.ErrStarted, "second Start()")

	cause := errors.New("sc stopped")
	sc.Cancel(cause)
	assert.Equal(t, cause, (<-seen).cause, "context.Cause(ctx) of the started task when sc is canceled")
	_, _ = h.Await(context.Background())
	assert.Zero(t, s.Stats().OverCap, "Stats().OverCap after it ended")
}

func TestScopeCancelOfABoundLazyTaskNeverRunsIt(t *testing.T) {
	s := scSched(t)
	sc := scChild(t, s.Root(), scheduler.WithName("sc"))
	var runs atomic.Int32
	h := scheduler.NewTask(sc, scCount(&runs))
	cause := errors.New("not needed")
	assert.True(t, h.Cancel(cause), "Cancel(cause) of a bound Lazy task")
	assert.False(t, h.Cancel(nil), "second Cancel")
	assert.Equal(t, lazytask.Canceled, h.State(), "State()")
	assert.Equal(t, cause, h.Err(), "Err()")
	assert.Zero(t, sc.Snapshot().Lazy, "sc's Lazy count after the cancel")
	assert.ErrorIs(t, sc.Enqueue(h), scheduler.ErrNotQueued, "Enqueue of a canceled task")
	assert.ErrorIs(t, h.Start(), lazytask.ErrStarted, "Start() of a canceled task")
	require.NoError(t, sc.Shutdown(context.Background()))
	assert.Equal(t, cause, h.Err(), "Err() after the scope closed: the first end stays")
	assert.Zero(t, runs.Load(), "runs")
	assert.Equal(t, uint64(1), s.Stats().Canceled, "Stats().Canceled")
}

// Once a scope's context is done through its timeout, the scope takes no
// more work, although the cancellation that marks it dead runs on another
// goroutine (a context.AfterFunc). (Found as a bug: Submit accepted and
// started tasks in that window. It is a goroutine switch wide: the race
// detector's scheduling hit it in about half the rounds, a plain build
// rarely; 100 rounds make a miss under -race vanishingly unlikely.)
func TestScopeTimedOutScopeRefusesWorkAtOnce(t *testing.T) {
	var accepted, ran int
	for range 100 {
		synctest.Test(t, func(t *testing.T) {
			s := scSched(t, scheduler.WithLimit(8))
			sc := scChild(t, s.Root(), scheduler.WithName("timed"), scheduler.WithTimeout(time.Second))
			var runs atomic.Int32
			<-sc.Context().Done() // the scope has timed out
			for {
				if _, err := scheduler.Submit(sc, scCount(&runs)); err != nil {
					break
				}
				accepted++
			}
			require.NoError(t, s.Shutdown(context.Background()))
			ran += int(runs.Load())
		})
	}
	assert.Zero(t, accepted, "submissions accepted by a scope whose context had timed out (100 rounds)")
	assert.Zero(t, ran, "tasks run in a scope whose context had timed out (100 rounds)")
}

// A Lazy task two scopes below a canceled one, whose scope in between is
// idle: the ancestors' Stats count its end. The idle scope used to be
// released (its totals handed to its parent) before the walk reached the
// task, whose end was then counted in a scope already gone from the tree
// (a hostile review, 2026-12-07).
func TestScopeStatsCountALazyTaskCanceledBelowAnIdleChild(t *testing.T) {
	for _, how := range []string{"Cancel", "fail-fast"} {
		t.Run(how, func(t *testing.T) {
			s := scSched(t)
			p := scChild(t, s.Root(), scheduler.WithName("P"))
			top := p
			if how == "fail-fast" {
				top = scChild(t, p, scheduler.WithName("F"), scheduler.FailFast())
			}
			c := scChild(t, top, scheduler.WithName("C"))
			g := scChild(t, c, scheduler.WithName("G"))
			lz := scheduler.NewTask(g, func(context.Context) (int, error) { return 1, nil })
			if how == "Cancel" {
				c.Cancel(nil)
			} else {
				_, err := scheduler.Go(top, func(context.Context) error { return errors.New("boom") })
				require.NoError(t, err)
				_ = top.Wait(context.Background())
			}
			<-lz.Done()
			require.Equal(t, lazytask.Canceled, lz.State())
			for name, sc := range map[string]*scheduler.Scope{"P": p, "top": top, "root": s.Root()} {
				st := sc.Stats()
				assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected+uint64(st.Queued+st.Running+st.Lazy),
					"%s: Created = Succeeded+Failed+Canceled+Rejected+Queued+Running+Lazy: %+v", name, st)
				assert.NotZero(t, st.Canceled, "%s: the Lazy task's end", name)
			}
		})
	}
}

// A scope released once (its parent's Shutdown) and then shut down or
// canceled again hands its totals to its parent once: they were added
// again at each release (a hostile review, 2026-12-07: Created 1, 2, 3).
func TestScopeReleasedTwiceCountsItsTasksOnceInItsParent(t *testing.T) {
	s := scSched(t)
	p := scChild(t, s.Root(), scheduler.WithName("P"))
	c := scChild(t, p, scheduler.WithName("C"))
	h, err := scheduler.Go(c, func(context.Context) error { return nil })
	require.NoError(t, err)
	require.NoError(t, h.Wait(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, uint64(1), p.Stats().Created)
	_ = c.Shutdown(context.Background())
	assert.Equal(t, uint64(1), p.Stats().Created, "after the child's own Shutdown")
	c.Cancel(nil)
	assert.Equal(t, uint64(1), p.Stats().Created, "after the child's Cancel")
}

// Resize of a scope with no cap of its own gives it one: a queued task
// heavier than that cap ends Failed with ErrWeightTooLarge, as for a
// lowered cap. It stayed queued for ever (the same review).
func TestResizeOfAnUncappedScopeFailsHeavierQueuedTasks(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(4))
	sc := scChild(t, s.Root())
	_, g := scHold(t, sc, lazytask.WithWeight(4))
	heavy, err := scheduler.Go(sc, func(context.Context) error { return nil }, lazytask.WithWeight(3))
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, heavy.State())
	require.NoError(t, sc.Resize(2))
	assert.Equal(t, lazytask.Failed, heavy.State())
	assert.ErrorIs(t, heavy.Err(), scheduler.ErrWeightTooLarge)
	g.open()
}
