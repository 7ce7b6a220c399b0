package scheduler_test

import (
	"context"
	"errors"
	"math/rand/v2"
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

// A task whose own deadline (lazytask.WithDeadline) passes while it waits
// in a queue ends at its deadline, Failed with context.DeadlineExceeded,
// without running and without waiting for a slot: its Await returns then,
// and its place in the queue is free.

func TestAQueuedTaskEndsAtItsDeadlineThoughNoSlotFrees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		_, g := hold(t, s)
		var bRan, cRan atomic.Int32
		b, err := scheduler.Submit(s, ocNeverRun(&bRan), lazytask.WithName("B"), lazytask.WithDeadline(time.Now().Add(time.Second)))
		require.NoError(t, err, "Submit(B)")
		c, err := scheduler.Submit(s, ocNeverRun(&cRan), lazytask.WithName("C"))
		require.NoError(t, err, "Submit(C)")
		start := time.Now()
		_, err = b.Await(bg)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "B.Await")
		assert.Equal(t, time.Second, time.Since(start), "B.Await returned after (fake time)")
		assert.Equal(t, lazytask.Failed, b.State(), "B's state")
		assert.True(t, b.Timings().Started.IsZero(), "B has no start time")
		st := s.Stats()
		assert.Equal(t, 1, st.Queued, "Stats().Queued once B has ended: C only")
		assert.Equal(t, uint64(1), st.Failed, "Stats().Failed")
		assert.Equal(t, lazytask.Queued, c.State(), "C, behind B, still waits for the slot")
		g.open()
		_, err = c.Await(bg)
		assert.NoError(t, err, "C.Await")
		assert.Equal(t, int32(0), bRan.Load(), "runs of B's function")
		assert.Equal(t, int32(1), cRan.Load(), "runs of C's function")
	})
}

func TestAQueuedTaskPastItsDeadlineFreesItsPlaceInABoundedQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
		_, g := hold(t, s)
		var ran atomic.Int32
		b, err := scheduler.Submit(s, ocNeverRun(&ran), lazytask.WithDeadline(time.Now().Add(time.Second)))
		require.NoError(t, err, "Submit(B)")
		_, err = scheduler.Submit(s, ocNeverRun(&ran))
		require.ErrorIs(t, err, scheduler.ErrQueueFull, "Submit while B takes the only place")
		start := time.Now()
		c, err := scheduler.SubmitWait(bg, s, ocNeverRun(&ran))
		require.NoError(t, err, "SubmitWait(C)")
		assert.Equal(t, time.Second, time.Since(start), "SubmitWait waited for B's deadline (fake time)")
		assert.Equal(t, lazytask.Failed, b.State(), "B's state")
		assert.Equal(t, lazytask.Queued, c.State(), "C's state")
		g.open()
		_, err = c.Await(bg)
		assert.NoError(t, err, "C.Await")
		assert.Equal(t, int32(1), ran.Load(), "runs: C's only")
	})
}

// As for a task that ran out of time, the scope's policy sees the error: a
// fail-fast scope fails and cancels what it holds, a supervisor's handler
// is called once.
func TestAQueuedTaskPastItsDeadlineMeetsItsScopesPolicy(t *testing.T) {
	t.Run("fail fast", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(1))
			sc, err := s.Root().NewScope(scheduler.WithName("ff"), scheduler.FailFast())
			require.NoError(t, err)
			_, g := hold(t, s)
			defer g.open()
			var ran atomic.Int32
			b, err := scheduler.Submit(sc, ocNeverRun(&ran), lazytask.WithDeadline(time.Now().Add(time.Second)))
			require.NoError(t, err, "Submit(B)")
			d, err := scheduler.Submit(sc, ocNeverRun(&ran))
			require.NoError(t, err, "Submit(D)")
			err = sc.Wait(bg)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "the fail-fast scope's Wait")
			assert.Equal(t, lazytask.Failed, b.State(), "B's state")
			_, err = d.Await(bg)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "D, canceled by the scope's failure: its cause")
			assert.Equal(t, lazytask.Canceled, d.State(), "D's state")
			assert.Equal(t, int32(0), ran.Load(), "runs")
		})
	})
	t.Run("supervise", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var reports []error
			s := startScheduler(t, scheduler.WithLimit(1))
			sc, err := s.Root().NewScope(scheduler.Supervise(func(info lazytask.Info, err error) {
				mu.Lock()
				reports = append(reports, err)
				mu.Unlock()
			}))
			require.NoError(t, err)
			_, g := hold(t, s)
			var ran atomic.Int32
			b, err := scheduler.Submit(sc, ocNeverRun(&ran), lazytask.WithDeadline(time.Now().Add(time.Second)))
			require.NoError(t, err, "Submit(B)")
			d, err := scheduler.Submit(sc, ocNeverRun(&ran))
			require.NoError(t, err, "Submit(D)")
			_, err = b.Await(bg)
			require.ErrorIs(t, err, context.DeadlineExceeded, "B.Await")
			g.open()
			_, err = d.Await(bg)
			assert.NoError(t, err, "D, the supervised sibling, goes on")
			// The scheduler's Shutdown waits for the handler's call, which
			// follows B's callbacks on the goroutine that ended it.
			require.NoError(t, s.Shutdown(bg), "Shutdown")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, reports, 1, "the supervisor's reports")
			assert.ErrorIs(t, reports[0], context.DeadlineExceeded, "the report")
			assert.Equal(t, int32(1), ran.Load(), "runs: D's only")
		})
	})
}

func TestAQueuedTaskEndsAtItsDeadlineOnTheSchedulersClock(t *testing.T) {
	s, mock := clockScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	defer g.open()
	var ran atomic.Int32
	b, err := scheduler.Submit(s, ocNeverRun(&ran), lazytask.WithDeadline(mock.Now().Add(time.Second)))
	require.NoError(t, err)
	notDone(t, b, "before the mock moves")
	mock.Add(2 * time.Second)
	_, err = b.Await(bg)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "B.Await once the mock passed its deadline")
	assert.Equal(t, lazytask.Failed, b.State())
	assert.Equal(t, int32(0), ran.Load(), "runs of B's function")
}

// frozenClock never moves; it records each timer asked of it, which never
// fires, and whether it was stopped.
type frozenClock struct {
	now    time.Time
	mu     sync.Mutex
	timers []*frozenTimer
}

type frozenTimer struct {
	d       time.Duration
	stopped bool
}

func (c *frozenClock) Now() time.Time { return c.now }

func (c *frozenClock) AfterFunc(d time.Duration, _ func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &frozenTimer{d: d}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// first returns what became of the first timer asked for.
func (c *frozenClock) first(t *testing.T) frozenTimer {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.timers, "timers asked of the clock")
	return *c.timers[0]
}

// The deadline's timer does not outlive the task's wait: admitted,
// force-run or canceled before its deadline, the task stops it (a task
// whose deadline is an hour away does not keep a timer, and itself, alive
// for that hour).
func TestAQueuedTasksDeadlineTimerStopsWhenItLeavesTheQueue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(t *testing.T, s *scheduler.Scheduler, h *lazytask.Task[int], g *gate)
		want  lazytask.State
	}{
		{"admitted", func(t *testing.T, _ *scheduler.Scheduler, _ *lazytask.Task[int], g *gate) { g.open() }, lazytask.Succeeded},
		{"force-run", func(t *testing.T, s *scheduler.Scheduler, h *lazytask.Task[int], _ *gate) {
			require.NoError(t, s.Force(h))
		}, lazytask.Succeeded},
		{"canceled", func(t *testing.T, _ *scheduler.Scheduler, h *lazytask.Task[int], _ *gate) { h.Cancel(nil) }, lazytask.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &frozenClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
			s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithClock(clk))
			_, g := hold(t, s)
			defer g.open()
			h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil },
				lazytask.WithDeadline(clk.now.Add(time.Hour)))
			require.NoError(t, err)
			tm := clk.first(t)
			assert.Equal(t, time.Hour, tm.d, "the queued task's timer")
			assert.False(t, tm.stopped, "its timer while it waits")
			tc.leave(t, s, h, g)
			_, _ = h.Await(bg)
			assert.Equal(t, tc.want, h.State())
			assert.True(t, clk.first(t).stopped, "the timer once the task left the queue")
		})
	}
}

// Deadlines that pass around the admission of their tasks, with cancels and
// promotes racing them: each task ends once, one that ran did not fail
// for its deadline, and the counters add up.
func TestQueuedDeadlinesRacingAdmissionEndEachTaskOnce(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	const n = 3000
	var ran [n]atomic.Int32
	var cbs [n]atomic.Int32
	hs := make([]*lazytask.Task[int], n)
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range hs {
		opts := []lazytask.Option{lazytask.WithPriority(rng.IntN(3))}
		if i%4 != 3 {
			opts = append(opts, lazytask.WithDeadline(time.Now().Add(time.Duration(rng.IntN(3000))*time.Microsecond)))
		}
		h, err := scheduler.Submit(s, func(context.Context) (int, error) {
			ran[i].Add(1)
			return i, nil
		}, opts...)
		require.NoError(t, err)
		h.OnDone(func(int, error) { cbs[i].Add(1) })
		hs[i] = h
		switch rng.IntN(10) {
		case 0:
			h.Cancel(nil)
		case 1:
			_ = s.Promote(h)
		}
	}
	for i, h := range hs {
		_, err := h.Await(bounded(t))
		switch h.State() {
		case lazytask.Succeeded:
			assert.Equal(t, int32(1), ran[i].Load(), "task %d succeeded: its runs", i)
		case lazytask.Failed:
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "task %d failed with %v", i, err)
			assert.Zero(t, ran[i].Load(), "task %d failed for its deadline: its runs", i)
		case lazytask.Canceled:
			assert.Zero(t, ran[i].Load(), "task %d canceled while queued: its runs", i)
		default:
			t.Fatalf("task %d in state %v after Await", i, h.State())
		}
	}
	require.NoError(t, s.Shutdown(bounded(t)))
	for i := range cbs {
		assert.Equal(t, int32(1), cbs[i].Load(), "done callbacks of task %d", i)
	}
	st := s.Stats()
	assert.Equal(t, uint64(n), st.Created)
	assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "Created = the ends: %+v", st)
	assert.Zero(t, st.Queued+st.Running+st.Lazy, "%+v", st)
}
