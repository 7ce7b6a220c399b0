package scheduler_test

// Hostile review hN: time under hostile use, with an injected clock, as a
// user of Kotlin's withTimeout, Trio's move_on_after / fail_after and
// asyncio's wait_for / timeout() would test it. Every test runs on both
// mock clocks the design names: github.com/benbjohnson/clock and its
// maintained fork github.com/filecoin-project/go-clock.

import (
	"context"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bclock "github.com/benbjohnson/clock"
	fclock "github.com/filecoin-project/go-clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hnMock is what the tests need of a mock clock: both mocks have it.
type hnMock interface {
	Now() time.Time
	Add(d time.Duration)
	Set(t time.Time)
}

// hnClocks are the two mock clocks, each with its ClockOf adapter.
var hnClocks = []struct {
	name string
	make func() (hnMock, scheduler.Clock)
}{
	{"benbjohnson", func() (hnMock, scheduler.Clock) {
		m := bclock.NewMock()
		return m, scheduler.ClockOf(m)
	}},
	{"filecoin", func() (hnMock, scheduler.Clock) {
		m := fclock.NewMock()
		return m, scheduler.ClockOf(m)
	}},
}

var hnT0 = time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)

// hnEachClock runs f once per mock clock, with a scheduler on it (the mock
// set to hnT0) that hsSched shuts down at cleanup.
func hnEachClock(t *testing.T, f func(t *testing.T, s *scheduler.Scheduler, m hnMock), opts ...scheduler.SchedulerOption) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			s := hsSched(t, append([]scheduler.SchedulerOption{scheduler.WithClock(clk)}, opts...)...)
			f(t, s, m)
		})
	}
}

// hnDeadlineOf is a task body that sends its context's deadline (zero if
// none) once it runs and then waits for its context, or for release.
func hnDeadlineOf(started chan<- time.Time, release <-chan struct{}) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		d, _ := ctx.Deadline()
		started <- d
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-release:
			return 1, nil
		}
	}
}

// hnUntil polls cond (for a state that no channel announces, such as a
// callback run after Done closed) until it holds, failing after hsHang.
func hnUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(hsHang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, hsHang)
		}
		time.Sleep(time.Millisecond)
	}
}

func hnRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hsHang):
		t.Fatalf("%s: nothing after %v", what, hsHang)
		panic("unreachable")
	}
}

// Kotlin's withTimeout and Trio's fail_after count from where the block
// starts; lazytask.WithTimeout says it counts from the task's start, not
// its creation. An hour in the queue must not eat a 5 s budget.
func TestHNTaskTimeoutCountsFromStartNotFromTheQueue(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		_, g := hold(t, s)
		started := make(chan time.Time, 1)
		h, err := scheduler.Submit(s, hnDeadlineOf(started, nil), lazytask.WithTimeout(5*time.Second))
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, h.State())
		m.Add(time.Hour) // far past the timeout, still queued
		require.Equal(t, lazytask.Queued, h.State(), "a queued task's timeout has not begun")
		g.open()
		d := hnRecv(t, started, "start")
		want := hnT0.Add(time.Hour + 5*time.Second)
		assert.True(t, d.Equal(want), "ctx.Deadline() = %v; want start + 5s = %v", d, want)
		m.Add(4*time.Second + 999*time.Millisecond)
		notDone(t, h, "4.999s into a 5s timeout")
		m.Add(time.Millisecond)
		_, err = hsAwait(t, h)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Failed, h.State(), "a task's own timeout fails it (fail_after, not move_on_after)")
		tm := h.Timings()
		assert.Equal(t, time.Hour, tm.QueueTime(), "QueueTime on the mock")
		assert.Equal(t, 5*time.Second, tm.RunTime(), "RunTime on the mock")
	}, scheduler.WithLimit(1))
}

// Deadlines and timeouts at the edges: in the past, exactly now, zero (no
// deadline), a nanosecond ahead, far ahead, and the largest timeout.
func TestHNTaskDeadlineEdgesWithAFreeSlot(t *testing.T) {
	type want int
	const (
		neverRuns want = iota // Failed, DeadlineExceeded, the function never ran
		runsFree              // runs with no deadline
		runsBound             // runs with the deadline given
	)
	for _, tc := range []struct {
		name     string
		opt      func(now time.Time) lazytask.Option
		want     want
		deadline func(now time.Time) time.Time
	}{
		{"deadline an hour ago", func(n time.Time) lazytask.Option { return lazytask.WithDeadline(n.Add(-time.Hour)) }, neverRuns, nil},
		{"deadline in year 1", func(time.Time) lazytask.Option { return lazytask.WithDeadline(time.Time{}.Add(1)) }, neverRuns, nil},
		{"deadline exactly now", func(n time.Time) lazytask.Option { return lazytask.WithDeadline(n) }, neverRuns, nil},
		{"zero deadline is none", func(time.Time) lazytask.Option { return lazytask.WithDeadline(time.Time{}) }, runsFree, nil},
		{"zero timeout is none", func(time.Time) lazytask.Option { return lazytask.WithTimeout(0) }, runsFree, nil},
		{"deadline 1ns ahead", func(n time.Time) lazytask.Option { return lazytask.WithDeadline(n.Add(1)) }, runsBound,
			func(n time.Time) time.Time { return n.Add(1) }},
		{"deadline in year 9999", func(time.Time) lazytask.Option {
			return lazytask.WithDeadline(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
		}, runsBound, func(time.Time) time.Time { return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"timeout MaxInt64", func(time.Time) lazytask.Option { return lazytask.WithTimeout(math.MaxInt64) }, runsBound,
			func(n time.Time) time.Time { return n.Add(math.MaxInt64) }},
		{"timeout 1ns", func(time.Time) lazytask.Option { return lazytask.WithTimeout(1) }, runsBound,
			func(n time.Time) time.Time { return n.Add(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
				now := m.Now()
				started := make(chan time.Time, 1)
				release := make(chan struct{})
				h, err := scheduler.Submit(s, hnDeadlineOf(started, release), tc.opt(now))
				require.NoError(t, err, "Submit")
				switch tc.want {
				case neverRuns:
					_, err := hsAwait(t, h)
					assert.ErrorIs(t, err, context.DeadlineExceeded, "Await")
					assert.Equal(t, lazytask.Failed, h.State())
					select {
					case <-started:
						t.Errorf("the function ran past its deadline")
					default:
					}
					assert.True(t, h.Timings().Started.IsZero(), "Started of a task that never ran: %v", h.Timings().Started)
				case runsFree, runsBound:
					d := hnRecv(t, started, "start")
					if tc.want == runsFree {
						assert.True(t, d.IsZero(), "ctx.Deadline() = %v; want none", d)
					} else {
						want := tc.deadline(now)
						assert.True(t, d.Equal(want), "ctx.Deadline() = %v; want %v", d, want)
						if want.Sub(now) > time.Hour {
							m.Add(time.Hour) // nothing fires an hour into a far deadline
						}
					}
					if tc.want == runsBound && tc.deadline(now).Sub(now) <= time.Nanosecond {
						m.Add(time.Nanosecond)
						_, err := hsAwait(t, h)
						assert.ErrorIs(t, err, context.DeadlineExceeded, "a 1ns bound, the mock moved 1ns")
						assert.Equal(t, lazytask.Failed, h.State())
						return
					}
					notDone(t, h, "a task with a deadline not reached")
					close(release)
					v, err := hsAwait(t, h)
					assert.NoError(t, err)
					assert.Equal(t, 1, v)
				}
			})
		})
	}
}

// The same edges for a task that waits in the queue: one whose deadline is
// already past ends at once, without waiting for a slot (asyncio's
// timeout() that has expired raises at the first await, it does not wait
// for the loop to be free).
func TestHNQueuedTaskWithAPastDeadlineEndsWithoutWaitingForASlot(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		_, g := hold(t, s)
		var ran atomic.Bool
		past, err := scheduler.Go(s, func(context.Context) error { ran.Store(true); return nil },
			lazytask.WithDeadline(m.Now().Add(-time.Second)))
		require.NoError(t, err)
		now, err := scheduler.Go(s, func(context.Context) error { ran.Store(true); return nil },
			lazytask.WithDeadline(m.Now()))
		require.NoError(t, err)
		_, err = hsAwait(t, past)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "past deadline, queued")
		_, err = hsAwait(t, now)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "deadline now, queued")
		assert.False(t, ran.Load())
		st := s.Stats()
		assert.Equal(t, 0, st.Queued, "Stats().Queued once both expired: %+v", st)
		assert.Equal(t, uint64(2), st.Failed, "Stats().Failed: %+v", st)
		g.open()
	}, scheduler.WithLimit(1))
}

// A queued task's deadline passes while the slot is still held: it ends
// then, Failed, at exactly its deadline on the mock, once; the supervisor
// hears of it once; the holder is untouched.
func TestHNQueuedDeadlineEndsItAtItsDeadline(t *testing.T) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			var mu sync.Mutex
			var reports []error
			s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(1), scheduler.Supervise(func(_ lazytask.Info, err error) {
				mu.Lock()
				reports = append(reports, err)
				mu.Unlock()
			}))
			holder, g := hold(t, s)
			var cbs atomic.Int32
			h, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithDeadline(hnT0.Add(5*time.Second)))
			require.NoError(t, err)
			h.OnDone(func(struct{}, error) { cbs.Add(1) })
			m.Add(5*time.Second - 1)
			notDone(t, h, "1ns before the deadline")
			m.Add(1)
			_, err = hsAwait(t, h)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, lazytask.Failed, h.State())
			assert.Equal(t, lazytask.Running, holder.State(), "the holder")
			tm := h.Timings()
			assert.True(t, tm.Finished.Equal(hnT0.Add(5*time.Second)), "Finished %v; want the deadline", tm.Finished)
			assert.True(t, tm.Started.IsZero(), "Started %v of a task that never ran", tm.Started)
			m.Add(time.Hour)
			g.open()
			require.NoError(t, hsWait(t, s.Root()))
			require.NoError(t, s.Shutdown(bg))
			assert.Equal(t, int32(1), cbs.Load(), "done callbacks")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, reports, 1, "supervisor reports: %v", reports)
			assert.ErrorIs(t, reports[0], context.DeadlineExceeded)
		})
	}
}

// Deadline and timeout together: the earlier bound wins, read from the
// start for the timeout.
func TestHNTaskDeadlineAndTimeoutTheEarlierWins(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		for _, tc := range []struct {
			name      string
			timeout   time.Duration
			deadline  time.Duration // from the start
			wantAfter time.Duration
		}{
			{"deadline first", 10 * time.Second, 3 * time.Second, 3 * time.Second},
			{"timeout first", 2 * time.Second, 30 * time.Second, 2 * time.Second},
		} {
			start := m.Now()
			started := make(chan time.Time, 1)
			h, err := scheduler.Submit(s, hnDeadlineOf(started, nil),
				lazytask.WithTimeout(tc.timeout), lazytask.WithDeadline(start.Add(tc.deadline)))
			require.NoError(t, err)
			d := hnRecv(t, started, tc.name)
			assert.True(t, d.Equal(start.Add(tc.wantAfter)), "%s: ctx.Deadline() = %v; want %v", tc.name, d, start.Add(tc.wantAfter))
			m.Add(tc.wantAfter - 1)
			notDone(t, h, tc.name)
			m.Add(1)
			_, err = hsAwait(t, h)
			assert.ErrorIs(t, err, context.DeadlineExceeded, tc.name)
			assert.Equal(t, lazytask.Failed, h.State(), tc.name)
		}
	})
}

// A timer that fires exactly as the task returns: exactly one terminal
// state, consistent with what the function returned, one callback, one
// done hook, and Stats that add up.
func TestHNTimeoutFiringAsTheTaskReturns(t *testing.T) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			var hooks sync.Map
			s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(8), scheduler.WithHooks(scheduler.Hooks{
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					n, _ := hooks.LoadOrStore(h, new(atomic.Int32))
					n.(*atomic.Int32).Add(1)
				},
			}))
			const rounds = 200
			type rec struct {
				h   *lazytask.Task[int]
				ret *atomic.Value
				cbs *atomic.Int32
			}
			var all []rec
			for range rounds {
				release := make(chan struct{})
				var ret atomic.Value
				var cbs atomic.Int32
				started := make(chan struct{})
				h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
					close(started)
					select {
					case <-release:
						ret.Store("nil")
						return 1, nil
					case <-ctx.Done():
						ret.Store("ctx")
						return 0, ctx.Err()
					}
				}, lazytask.WithTimeout(time.Second))
				require.NoError(t, err)
				h.OnDone(func(int, error) { cbs.Add(1) })
				hsWithin(t, started, "start")
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); close(release) }()
				go func() { defer wg.Done(); m.Add(time.Second) }()
				wg.Wait()
				_, _ = hsAwait(t, h)
				all = append(all, rec{h, &ret, &cbs})
			}
			require.NoError(t, s.Shutdown(bg))
			var won [2]int
			for i, r := range all {
				switch r.ret.Load() {
				case "nil":
					won[0]++
					assert.Equal(t, lazytask.Succeeded, r.h.State(), "round %d: returned nil", i)
				case "ctx":
					won[1]++
					assert.Equal(t, lazytask.Failed, r.h.State(), "round %d: returned its own timeout", i)
					assert.ErrorIs(t, r.h.Err(), context.DeadlineExceeded, "round %d", i)
				}
				assert.Equal(t, int32(1), r.cbs.Load(), "round %d: callbacks", i)
				n, ok := hooks.Load(lazytask.Handle(r.h))
				if assert.True(t, ok, "round %d: no done hook", i) {
					assert.Equal(t, int32(1), n.(*atomic.Int32).Load(), "round %d: done hooks", i)
				}
			}
			t.Logf("returned nil %d times, its timeout %d times", won[0], won[1])
			st := s.Stats()
			assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "%+v", st)
		})
	}
}

// A queued task's deadline passing just as a slot frees for it: it either
// runs (Succeeded, with a start time) or never runs (Failed with
// DeadlineExceeded, no start time), never both, never neither.
func TestHNQueuedDeadlineRacingItsAdmission(t *testing.T) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(1))
			var outcome [2]int
			for i := range 200 {
				_, g := hold(t, s)
				var ran atomic.Int32
				var cbs atomic.Int32
				h, err := scheduler.Go(s, func(context.Context) error { ran.Add(1); return nil },
					lazytask.WithDeadline(m.Now().Add(time.Second)))
				require.NoError(t, err)
				h.OnDone(func(struct{}, error) { cbs.Add(1) })
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); g.open() }()
				go func() { defer wg.Done(); m.Add(time.Second) }()
				wg.Wait()
				_, err = hsAwait(t, h)
				switch ran.Load() {
				case 1:
					outcome[0]++
					assert.NoError(t, err, "round %d: ran", i)
					assert.Equal(t, lazytask.Succeeded, h.State(), "round %d", i)
					assert.False(t, h.Timings().Started.IsZero(), "round %d: ran without a start time", i)
				case 0:
					outcome[1]++
					assert.ErrorIs(t, err, context.DeadlineExceeded, "round %d: never ran", i)
					assert.Equal(t, lazytask.Failed, h.State(), "round %d", i)
					assert.True(t, h.Timings().Started.IsZero(), "round %d: never ran, start time %v", i, h.Timings().Started)
				default:
					t.Fatalf("round %d: ran %d times", i, ran.Load())
				}
				require.NoError(t, hsWait(t, s.Root()))
				// The callback runs on the ending goroutine, after Done.
				hnUntil(t, func() bool { return cbs.Load() > 0 }, "the callback")
				assert.Equal(t, int32(1), cbs.Load(), "round %d: callbacks", i)
			}
			t.Logf("ran %d, expired in the queue %d", outcome[0], outcome[1])
			st := s.Stats()
			assert.Zero(t, st.Queued+st.Running+st.InUse, "%+v", st)
		})
	}
}

// Scope deadlines at the edges. Trio: a cancel scope whose deadline has
// passed cancels at its first checkpoint; here a scope made with a past
// deadline refuses work at once, and says why.
func TestHNScopeDeadlineEdges(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		// In the past, and exactly now.
		for _, d := range []time.Time{m.Now().Add(-time.Hour), m.Now(), time.Time{}.Add(1)} {
			sc, err := s.Root().NewScope(scheduler.WithDeadline(d))
			require.NoError(t, err, "NewScope(WithDeadline(%v))", d)
			var ran atomic.Bool
			h, err := scheduler.Go(sc, func(context.Context) error { ran.Store(true); return nil })
			assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "Submit to a scope whose deadline %v passed", d)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Submit to a scope whose deadline %v passed: the why", d)
			assert.True(t, h.State().Terminal(), "a refused task")
			lazy := scheduler.NewTask(sc, func(context.Context) (int, error) { ran.Store(true); return 0, nil })
			_, err = hsAwait(t, lazy)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "NewTask in a scope whose deadline %v passed", d)
			assert.False(t, ran.Load())
			hsWithin(t, sc.Context().Done(), "the expired scope's context")
			assert.ErrorIs(t, context.Cause(sc.Context()), context.DeadlineExceeded)
			_, err = sc.NewScope()
			assert.ErrorIs(t, err, scheduler.ErrScopeCanceled, "NewScope under a scope whose deadline %v passed", d)
		}
		// Zero: none.
		sc, err := s.Root().NewScope(scheduler.WithDeadline(time.Time{}))
		require.NoError(t, err)
		_, has := sc.Context().Deadline()
		assert.False(t, has, "WithDeadline(zero time) is no deadline")
		// Far: none in practice, but reported.
		far, err := s.Root().NewScope(scheduler.WithTimeout(math.MaxInt64))
		require.NoError(t, err)
		fd, has := far.Context().Deadline()
		assert.True(t, has, "WithTimeout(MaxInt64) reports a deadline")
		assert.True(t, fd.After(hnT0.Add(200*365*24*time.Hour)), "deadline %v of WithTimeout(MaxInt64)", fd)
		m.Add(24 * time.Hour)
		fh, err := scheduler.Submit(far, func(context.Context) (int, error) { return 7, nil })
		require.NoError(t, err, "Submit to a scope with WithTimeout(MaxInt64), a day on")
		v, err := hsAwait(t, fh)
		assert.NoError(t, err)
		assert.Equal(t, 7, v)
	})
}

// A scope's timeout on the mock, counted from the scope's creation: it
// cancels its queued, Lazy and running tasks, each with DeadlineExceeded
// as its cause, and a derived context's Err reads DeadlineExceeded, as
// Kotlin's withTimeout and Go's own context.WithTimeout report it.
func TestHNScopeTimeoutEndsEveryKindOfTask(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		sc := hsScope(t, s.Root(), scheduler.WithTimeout(10*time.Second), scheduler.WithLimit(1))
		seen := make(chan hsSeen, 1)
		started := make(chan struct{})
		running, err := scheduler.Submit(sc, hsUntilDone(started, seen, hsRetErr))
		require.NoError(t, err)
		hsWithin(t, started, "running")
		var ran atomic.Int32
		queued, err := scheduler.Submit(sc, scCount(&ran))
		require.NoError(t, err)
		lazy := scheduler.NewTask(sc, scCount(&ran))
		m.Add(10*time.Second - 1)
		require.NoError(t, sc.Context().Err(), "1ns before the scope's timeout")
		m.Add(1)
		se := hnRecv(t, seen, "the running task's view")
		assert.Equal(t, context.DeadlineExceeded, se.err, "running task's ctx.Err() at its scope's timeout")
		assert.ErrorIs(t, se.cause, context.DeadlineExceeded, "running task's cause")
		_, err = hsAwait(t, running)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "running task's error")
		for name, h := range map[string]*lazytask.Task[int]{"queued": queued, "lazy": lazy} {
			_, err := hsAwait(t, h)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "%s task at its scope's timeout", name)
			assert.Equal(t, lazytask.Canceled, h.State(), "%s task", name)
		}
		assert.Equal(t, lazytask.Canceled, running.State(), "a running task that returned its scope's timeout is Canceled (the scope's, not its own)")
		assert.Zero(t, ran.Load())
	})
}

// A task that a scheduler admits but that never runs its function (its
// deadline passed before its start) has ended, and its Timings should say
// when, as they do for a task canceled or expired in the queue (whose
// Finished is set: TestScopeHooksSeeTasksWithTimings,
// TestHNQueuedDeadlineEndsItAtItsDeadline). Today core.Timings returns
// before reading the finished time of such a task, so Finished is zero:
// in Timings(), in Info() and in what OnDone hooks see (the otel
// integration then ends the span at the runtime's now, off the mock).
func TestHNTaskAdmittedPastItsDeadlineHasAFinishedTime(t *testing.T) {
	seen := make(chan lazytask.Timings, 1)
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		h, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithDeadline(m.Now().Add(-time.Second)))
		require.NoError(t, err)
		_, err = hsAwait(t, h)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		tm := h.Timings()
		assert.True(t, tm.Started.IsZero(), "Started %v of a task that never ran", tm.Started)
		assert.True(t, tm.Finished.Equal(m.Now()), "Timings().Finished = %v; want the mock's %v", tm.Finished, m.Now())
		assert.True(t, h.Info().Timings.Finished.Equal(m.Now()), "Info().Timings.Finished = %v", h.Info().Timings.Finished)
		got := hnRecv(t, seen, "OnDone")
		assert.True(t, got.Finished.Equal(m.Now()), "OnDone's Timings.Finished = %v; want the mock's %v", got.Finished, m.Now())
	}, scheduler.WithHooks(scheduler.Hooks{OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
		seen <- h.Info().Timings
	}}))
}

// I11: a task's start time and timeout count from when its function
// starts. A start hook that takes 10s on the mock (a tracer exporting
// synchronously) must not eat the task's 5s timeout, nor its queue time.
func TestHNTimeoutCountsFromTheFunctionNotFromASlowStartHook(t *testing.T) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			inHook := make(chan struct{})
			leaveHook := make(chan struct{})
			s := hsSched(t, scheduler.WithClock(clk), scheduler.WithHooks(scheduler.Hooks{
				OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
					close(inHook)
					<-leaveHook
					return ctx
				},
			}))
			started := make(chan time.Time, 1)
			h, err := scheduler.Submit(s, hnDeadlineOf(started, nil), lazytask.WithTimeout(5*time.Second))
			require.NoError(t, err)
			hsWithin(t, inHook, "OnStart")
			m.Add(10 * time.Second)
			close(leaveHook)
			d := hnRecv(t, started, "the function")
			assert.True(t, d.Equal(hnT0.Add(15*time.Second)), "ctx.Deadline() = %v; want the function's start + 5s = %v", d, hnT0.Add(15*time.Second))
			m.Add(4 * time.Second)
			notDone(t, h, "4s into the function's 5s")
			m.Add(time.Second)
			_, err = hsAwait(t, h)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			tm := h.Timings()
			assert.True(t, tm.Started.Equal(hnT0.Add(10*time.Second)), "Started %v; want when the function started", tm.Started)
			assert.Equal(t, 5*time.Second, tm.RunTime())
		})
	}
}

// A task's own timeout fires while it awaits a child that waits behind a
// full cap (its slot lent, I9): its Await returns at the timeout, it goes
// on at once (over the cap if its slot was taken meanwhile, counted), and
// it ends Failed with its own timeout; the counts come back to zero.
func TestHNTimeoutFiresWhileTheTaskLendsItsSlot(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		release := make(chan struct{})
		defer close(release)
		childRan := make(chan struct{})
		back := make(chan lazytask.Info, 1)
		parent, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
			child, err := scheduler.Submit(s, func(context.Context) (int, error) {
				close(childRan)
				<-release // holds the slot the parent lent
				return 0, nil
			})
			if err != nil {
				return 0, err
			}
			_, err = child.Await(ctx)
			back <- lazytask.HandleOf(ctx).Info()
			return 0, err
		}, lazytask.WithTimeout(5*time.Second))
		require.NoError(t, err)
		hsWithin(t, childRan, "the child in the lent slot")
		m.Add(5 * time.Second)
		info := hnRecv(t, back, "the parent back from its wait at its timeout")
		assert.True(t, info.OverCap, "back from a wait cut by its context while its slot is taken: over the cap")
		_, err = hsAwait(t, parent)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lazytask.Failed, parent.State(), "its own timeout")
		st := s.Stats()
		assert.Zero(t, st.OverCap, "over-cap count once the parent ended: %+v", st)
		assert.Equal(t, 1, st.InUse, "the child's slot: %+v", st)
	}, scheduler.WithLimit(1))
}

// A queued task that expires frees its place in a bounded queue: a
// SubmitWait waiting for room gets it at that moment on the mock.
func TestHNQueuedExpiryFreesRoomForSubmitWait(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		_, g := hold(t, s)
		q, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithDeadline(hnT0.Add(5*time.Second)))
		require.NoError(t, err)
		res := make(chan error, 1)
		go func() {
			_, err := scheduler.SubmitWait(bg, s, func(context.Context) (int, error) { return 1, nil })
			res <- err
		}()
		m.Add(5*time.Second - 1)
		select {
		case err := <-res:
			t.Fatalf("SubmitWait returned %v with the queue full", err)
		case <-time.After(20 * time.Millisecond): // a bounded look, not synchronisation: it must not return
		}
		m.Add(1)
		_, err = hsAwait(t, q)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NoError(t, hnRecv(t, res, "SubmitWait"), "SubmitWait once the expired task left the queue")
		g.open()
	}, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
}

// WithClock: "times outside [about 73 years around the process's start]
// read as the nearest end of that range". A task's timeout is then counted
// from a start time that is not the clock's: on a mock set to 1950 a 5s
// timeout never fires (the context reports a deadline in 1953), and on one
// set to 2200 it fires at once. A Trio or Kotlin user who sets a mock to a
// far date expects a 5s timeout to take 5s of it. (Per-task deadlines,
// read as times on the clock, are not affected.)
func TestHNTimeoutOnAMockFarFromTheProcessStart(t *testing.T) {
	if os.Getenv("LAZYSCHED_KNOWN") != "1" {
		t.Skip("hN, open (documented range): a mock outside about 73 years around the process start makes timeouts fire at once or never; set LAZYSCHED_KNOWN=1 to run")
	}
	for _, year := range []int{1950, 2200} {
		m, clk := hnClocks[0].make()
		start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		m.Set(start)
		s := hsSched(t, scheduler.WithClock(clk))
		started := make(chan time.Time, 1)
		h, err := scheduler.Submit(s, hnDeadlineOf(started, nil), lazytask.WithTimeout(5*time.Second))
		require.NoError(t, err)
		d := hnRecv(t, started, "start")
		assert.True(t, d.Equal(start.Add(5*time.Second)), "year %d: ctx.Deadline() = %v; want %v", year, d, start.Add(5*time.Second))
		time.Sleep(10 * time.Millisecond) // a bounded look: the timeout must not have fired
		assert.Equal(t, lazytask.Running, h.State(), "year %d: before the mock moved", year)
		m.Add(5 * time.Second)
		ctx, cancel := context.WithTimeout(bg, time.Second)
		_ = h.Wait(ctx)
		cancel()
		assert.Equal(t, lazytask.Failed, h.State(), "year %d: 5s of the mock after its start", year)
		h.Cancel(nil)

		// A scope's WithTimeout is counted from the same clamped now.
		sc, err := s.Root().NewScope(scheduler.WithTimeout(5 * time.Second))
		require.NoError(t, err)
		sd, _ := sc.Context().Deadline()
		assert.True(t, sd.Equal(m.Now().Add(5*time.Second)), "year %d: scope deadline %v; want %v", year, sd, m.Now().Add(5*time.Second))
		assert.NoError(t, sc.Context().Err(), "year %d: a scope with 5s to live, just made", year)
	}
}
