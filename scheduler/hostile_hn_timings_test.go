package scheduler_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// hnOrdered asserts created <= queued <= started <= finished for the steps
// that are set.
func hnOrdered(t *testing.T, what string, tm lazytask.Timings) {
	t.Helper()
	steps := []struct {
		name string
		at   time.Time
	}{{"created", tm.Created}, {"queued", tm.Queued}, {"started", tm.Started}, {"finished", tm.Finished}}
	var last time.Time
	lastName := ""
	for _, s := range steps {
		if s.at.IsZero() {
			continue
		}
		if !last.IsZero() && s.at.Before(last) {
			t.Errorf("%s: %s %v before %s %v (%+v)", what, s.name, s.at, lastName, last, tm)
		}
		last, lastName = s.at, s.name
	}
	assert.GreaterOrEqual(t, tm.QueueTime(), time.Duration(0), "%s: QueueTime", what)
	assert.GreaterOrEqual(t, tm.RunTime(), time.Duration(0), "%s: RunTime", what)
}

// Every way into Running stamps its start on the mock: admission from the
// queue, Force of a queued task, Force and Start of a Lazy task bound with
// NewTask, Promote then admission.
func TestHNTimingsOfEveryWayToRunAreOnTheMock(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		_, g := hold(t, s)
		release := make(chan struct{})
		body := func(context.Context) (int, error) { <-release; return 0, nil }
		queuedForced, err := scheduler.Submit(s, body)
		require.NoError(t, err)
		promoted, err := scheduler.Submit(s, body)
		require.NoError(t, err)
		lazyForced := scheduler.NewTask(s, body)
		lazyStarted := scheduler.NewTask(s, body)

		m.Add(2 * time.Second) // t0+2s
		require.NoError(t, s.Force(queuedForced))
		m.Add(time.Second) // t0+3s
		require.NoError(t, s.Force(lazyForced))
		m.Add(time.Second) // t0+4s
		require.NoError(t, lazyStarted.Start())
		require.NoError(t, s.Promote(promoted))
		m.Add(time.Second) // t0+5s
		g.open()           // the holder ends, the promoted task takes its slot
		hnUntil(t, func() bool { return promoted.State() == lazytask.Running }, "the promoted task's start")
		m.Add(time.Second) // t0+6s
		close(release)
		for _, h := range []*lazytask.Task[int]{queuedForced, promoted, lazyForced, lazyStarted} {
			_, err := hsAwait(t, h)
			require.NoError(t, err)
		}
		at := func(d time.Duration) time.Time { return hnT0.Add(d) }
		for _, tc := range []struct {
			name                     string
			h                        *lazytask.Task[int]
			created, queued, started time.Time
		}{
			{"queued, forced", queuedForced, at(0), at(0), at(2 * time.Second)},
			{"queued, promoted", promoted, at(0), at(0), at(5 * time.Second)},
			{"NewTask, forced", lazyForced, at(0), at(3 * time.Second), at(3 * time.Second)},
			{"NewTask, Start", lazyStarted, at(0), at(4 * time.Second), at(4 * time.Second)},
		} {
			tm := tc.h.Timings()
			assert.True(t, tm.Created.Equal(tc.created), "%s: created %v; want %v", tc.name, tm.Created, tc.created)
			assert.True(t, tm.Queued.Equal(tc.queued), "%s: queued %v; want %v", tc.name, tm.Queued, tc.queued)
			assert.True(t, tm.Started.Equal(tc.started), "%s: started %v; want %v", tc.name, tm.Started, tc.started)
			assert.True(t, tm.Finished.Equal(at(6*time.Second)), "%s: finished %v; want %v", tc.name, tm.Finished, at(6*time.Second))
			hnOrdered(t, tc.name, tm)
		}
	}, scheduler.WithLimit(1))
}

// A mock moved backwards (WithClock says it should not be; a test's Set
// can do it by mistake, and a wall clock stepped by NTP does it for real
// to a Clock that reads time.Now without its monotonic reading): a task's
// timings should stay in order, so that QueueTime and RunTime are never
// negative. WithClock promises it for start times only ("after a step back
// they stand still until c catches up"); Finished is read raw, so a task
// that ends after a step back reports a negative RunTime, which the prom
// and otel integrations then record in their run-time histograms. A
// NewTask enqueued after a step back is queued before it was created.
func TestHNMockMovedBackwardsKeepsTimingsInOrder(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		// Queued at t0, the clock steps back an hour, then it starts.
		_, g := hold(t, s)
		release := make(chan struct{})
		var ran atomic.Bool
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { ran.Store(true); <-release; return 0, nil })
		require.NoError(t, err)
		m.Set(hnT0.Add(-time.Hour))
		g.open()
		hnUntil(t, ran.Load, "the task's start")
		// ... and steps back another hour before it ends.
		m.Set(hnT0.Add(-2 * time.Hour))
		close(release)
		_, err = hsAwait(t, h)
		require.NoError(t, err)
		hnOrdered(t, "a task that ran while the mock stepped back", h.Timings())

		lazy := scheduler.NewTask(s, func(context.Context) (int, error) { return 0, nil })
		m.Set(hnT0.Add(-3 * time.Hour))
		require.NoError(t, s.Enqueue(lazy))
		_, err = hsAwait(t, lazy)
		require.NoError(t, err)
		hnOrdered(t, "a NewTask enqueued after a step back", lazy.Timings())
	}, scheduler.WithLimit(1))
}

// A timeout armed before the step back fires when the mock reaches the
// deadline it reported, not earlier and not never.
func TestHNMockMovedBackwardsTimeoutStillFires(t *testing.T) {
	hnEachClock(t, func(t *testing.T, s *scheduler.Scheduler, m hnMock) {
		started := make(chan time.Time, 1)
		h, err := scheduler.Submit(s, hnDeadlineOf(started, nil), lazytask.WithTimeout(5*time.Second))
		require.NoError(t, err)
		d := hnRecv(t, started, "start")
		require.True(t, d.Equal(hnT0.Add(5*time.Second)), "deadline %v", d)
		m.Set(hnT0.Add(-time.Hour))
		m.Add(time.Hour + 4*time.Second)
		notDone(t, h, "1s before the reported deadline, after the step back")
		m.Add(time.Second)
		_, err = hsAwait(t, h)
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		// A queued task's deadline too.
		_, g := hold(t, s)
		q, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithDeadline(m.Now().Add(5*time.Second)))
		require.NoError(t, err)
		now := m.Now()
		m.Set(now.Add(-time.Minute))
		m.Add(time.Minute + 4*time.Second)
		notDone(t, q, "queued, 1s before its deadline, after the step back")
		m.Add(time.Second)
		_, err = hsAwait(t, q)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		g.open()
	}, scheduler.WithLimit(1))
}

// Every hook sees timings in order, each step on the mock, under a load
// of submits, force-runs, promotes and cancels while the mock moves.
func TestHNHooksSeeOrderedTimingsUnderLoad(t *testing.T) {
	for _, c := range hnClocks {
		t.Run(c.name, func(t *testing.T) {
			m, clk := c.make()
			m.Set(hnT0)
			var mu sync.Mutex
			var bad []string
			var done atomic.Int32
			check := func(what string, tm lazytask.Timings) {
				ok := true
				if !tm.Created.IsZero() && tm.Created.Before(hnT0) {
					ok = false
				}
				for _, p := range [][2]time.Time{{tm.Created, tm.Queued}, {tm.Queued, tm.Started}, {tm.Started, tm.Finished}, {tm.Created, tm.Finished}} {
					if !p[0].IsZero() && !p[1].IsZero() && p[1].Before(p[0]) {
						ok = false
					}
				}
				if !ok {
					mu.Lock()
					bad = append(bad, what+": "+tmString(tm))
					mu.Unlock()
				}
			}
			s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(3), scheduler.WithHooks(scheduler.Hooks{
				OnStart: func(ctx context.Context, _ *scheduler.Scope, h lazytask.Handle) context.Context {
					check("OnStart", h.Info().Timings)
					return ctx
				},
				OnDone: func(_ context.Context, _ *scheduler.Scope, h lazytask.Handle) {
					check("OnDone", h.Info().Timings)
					done.Add(1)
				},
			}))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						m.Add(time.Millisecond)
					}
				}
			}()
			var hs []*lazytask.Task[int]
			for i := range 300 {
				h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
					time.Sleep(50 * time.Microsecond) // work, not synchronisation
					return i, nil
				}, lazytask.WithPriority(i%3))
				require.NoError(t, err)
				hs = append(hs, h)
				switch i % 7 {
				case 1:
					_ = s.Force(hs[i/2])
				case 2:
					_ = s.Promote(hs[i/3])
				case 3:
					hs[i/4].Cancel(nil)
				}
			}
			require.NoError(t, hsWait(t, s.Root()))
			close(stop)
			wg.Wait()
			require.NoError(t, s.Shutdown(bg))
			for i, h := range hs {
				check("Timings", h.Timings())
				assert.True(t, h.State().Terminal(), "task %d", i)
			}
			assert.Equal(t, int32(len(hs)), done.Load(), "done hooks")
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, bad, "timings out of order")
		})
	}
}

func tmString(tm lazytask.Timings) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Sub(hnT0).String()
	}
	return "c=" + f(tm.Created) + " q=" + f(tm.Queued) + " s=" + f(tm.Started) + " f=" + f(tm.Finished)
}
