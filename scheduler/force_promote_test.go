package scheduler_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestForceRunsAQueuedTaskNowOverTheCap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		force func(s *scheduler.Scheduler, h lazytask.Handle) error
	}{
		{"Scheduler.Force", func(s *scheduler.Scheduler, h lazytask.Handle) error { return s.Force(h) }},
		{"Scope.Force", func(s *scheduler.Scheduler, h lazytask.Handle) error { return s.Root().Force(h) }},
		{"handle.Start", func(_ *scheduler.Scheduler, h lazytask.Handle) error { return h.Start() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startScheduler(t, scheduler.WithLimit(1))
			_, holder := hold(t, s)
			g := newGate(t)
			h, err := scheduler.Submit(s, g.fn, lazytask.WithWeight(1))
			require.NoError(t, err)
			require.Equal(t, lazytask.Queued, h.State(), "State() behind the holder")

			require.NoError(t, tc.force(s, h), "%s(queued task)", tc.name)
			<-g.started // runs now, although the holder still has the only slot
			assert.Equal(t, lazytask.Running, h.State(), "State() after the force-run")
			assert.True(t, h.Info().OverCap, "Info().OverCap of a force-run task")
			st := s.Stats()
			assert.Equal(t, 1, st.OverCap, "Stats().OverCap while the force-run task runs")
			assert.Equal(t, 1, st.OverCapSlots, "Stats().OverCapSlots")
			assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns")
			assert.Equal(t, 2, st.Running, "Stats().Running (holder + forced)")
			assert.Equal(t, 1, st.InUse, "Stats().InUse (the force-run takes no slot under the cap)")
			assert.Zero(t, st.Queued, "Stats().Queued")

			g.open()
			_, err = h.Await(bg)
			require.NoError(t, err)
			holder.open()
			require.NoError(t, s.Wait(bg))
			st = s.Stats()
			assert.Zero(t, st.OverCap, "Stats().OverCap after the force-run ended")
			assert.Zero(t, st.OverCapSlots, "Stats().OverCapSlots after the force-run ended")
			assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns is a total")
		})
	}
}

func TestForceRunsALazyTaskInTheScheduler(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, holder := hold(t, s)
	inTask := make(chan lazytask.Handle, 1)
	h := lazytask.New(func(ctx context.Context) (int, error) {
		inTask <- lazytask.HandleOf(ctx)
		return 3, nil
	}, lazytask.WithWeight(1))
	require.NoError(t, s.Force(h), "Force(lazy)")
	v, err := h.Await(bg)
	if v != 3 || err != nil {
		t.Errorf("Await(bg) = %v, %v; want 3, nil", v, err)
	}
	assert.Same(t, h, <-inTask, "HandleOf(ctx) inside a force-run task")
	st := s.Stats()
	assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, uint64(2), st.Submitted, "Stats().Submitted (holder + forced lazy)")
	holder.open()
}

func TestForceOfATaskNotWaitingIsErrNotQueued(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	done, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	_, _ = done.Await(bg)
	running, g := hold(t, s)
	for _, tc := range []struct {
		name string
		h    lazytask.Handle
	}{
		{"succeeded", done},
		{"running", running},
		{"failed at creation", lazytask.New[int](nil)},
	} {
		if err := s.Force(tc.h); !errors.Is(err, scheduler.ErrNotQueued) {
			t.Errorf("Force(%s task) = %v; want ErrNotQueued", tc.name, err)
		}
	}
	if err := s.Force(nil); !errors.Is(err, scheduler.ErrForeignHandle) {
		t.Errorf("Force(nil) = %v; want ErrForeignHandle", err)
	}
	assert.Zero(t, s.Stats().ForceRuns, "Stats().ForceRuns after refused force-runs")
	g.open()
}

func TestForceOfATaskQueuedInAnotherSchedulerIsRefused(t *testing.T) {
	a := startScheduler(t, scheduler.WithLimit(1))
	b := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, a)
	var runs atomic.Int32
	h, err := scheduler.Submit(a, counted(&runs))
	require.NoError(t, err)
	if err := b.Force(h); err == nil {
		t.Errorf("b.Force(task queued in a) = nil; want an error")
	}
	if err := b.Promote(h); !errors.Is(err, scheduler.ErrNotQueued) {
		t.Errorf("b.Promote(task queued in a) = %v; want ErrNotQueued", err)
	}
	assert.Equal(t, lazytask.Queued, h.State(), "State() after refused calls")
	assert.Zero(t, b.Stats().ForceRuns, "b.Stats().ForceRuns")
	g.open()
	_, err = h.Await(bg)
	require.NoError(t, err)
}

func TestPromotePutsTasksAheadOfHigherPrioritiesInPromoteOrder(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var log runLog
	submit := func(name string, prio int) *lazytask.Task[string] {
		h, err := scheduler.Submit(s, log.logged(name), lazytask.WithPriority(prio))
		require.NoError(t, err)
		return h
	}
	_ = submit("hi1", 10)
	_ = submit("hi2", 10)
	lo1 := submit("lo1", 0)
	_ = submit("lo2", 0)
	lo3 := submit("lo3", 0)
	require.NoError(t, s.Promote(lo3), "Promote(lo3)")
	require.NoError(t, s.Promote(lo1), "Promote(lo1)")
	assert.Equal(t, lazytask.Queued, lo3.State(), "State() of a promoted task with no free slot")
	assert.Equal(t, uint64(2), s.Stats().Promoted, "Stats().Promoted")
	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, []string{"lo3", "lo1", "hi1", "hi2", "lo2"}, log.get(), "run order")
}

func TestPromoteTwiceKeepsTheFirstPromoteOrder(t *testing.T) {
	// §8: several promoted tasks keep their promote order.
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var log runLog
	a, _ := scheduler.Submit(s, log.logged("a"))
	b, _ := scheduler.Submit(s, log.logged("b"))
	require.NoError(t, s.Promote(a))
	require.NoError(t, s.Promote(b))
	require.NoError(t, s.Promote(a), "Promote(a) again")
	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, []string{"a", "b"}, log.get(), "run order after promoting a, b, a")
}

func TestPromotedLightTaskTakesAFreeSlotPastAHeavyHead(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(3))
	_, holder := hold(t, s, lazytask.WithWeight(2)) // 1 slot free
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	g := newGate(t)
	light, err := scheduler.Submit(s, g.fn)
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, light.State(), "light.State() behind the heavy head")
	require.NoError(t, s.Promote(light))
	<-g.started // it takes the free slot
	assert.Equal(t, lazytask.Queued, heavy.State(), "heavy.State()")
	assert.False(t, light.Info().OverCap, "a promoted task runs under the cap")
	assert.Equal(t, 3, s.Stats().InUse, "Stats().InUse")
	g.open()
	holder.open()
	_, err = heavy.Await(bg)
	require.NoError(t, err)
}

func TestPromoteOfATaskNotQueuedIsErrNotQueued(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	running, g := hold(t, s)
	lazy := lazytask.New(func(context.Context) (int, error) { return 1, nil })
	canceled, _ := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.True(t, canceled.Cancel(nil))
	for _, tc := range []struct {
		name string
		h    lazytask.Handle
	}{
		{"lazy", lazy},
		{"running", running},
		{"canceled", canceled},
	} {
		if err := s.Promote(tc.h); !errors.Is(err, scheduler.ErrNotQueued) {
			t.Errorf("Promote(%s task) = %v; want ErrNotQueued", tc.name, err)
		}
	}
	if err := s.Promote(nil); !errors.Is(err, scheduler.ErrForeignHandle) {
		t.Errorf("Promote(nil) = %v; want ErrForeignHandle", err)
	}
	assert.Zero(t, s.Stats().Promoted, "Stats().Promoted")
	assert.Equal(t, lazytask.Lazy, lazy.State(), "Promote must not touch a Lazy task")
	g.open()
}

// Force runs a task whose weight is above the cap, as its doc says, where
// Enqueue refuses it with ErrWeightTooLarge; the run is counted over the
// cap while it lasts, and the counts are back to 0 after it.
func TestForceRunsATaskHeavierThanTheCap(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	started, release := make(chan struct{}), make(chan struct{})
	heavy := func() *lazytask.Task[int] {
		return lazytask.New(func(context.Context) (int, error) { close(started); <-release; return 3, nil }, lazytask.WithWeight(3))
	}
	assert.ErrorIs(t, s.Enqueue(heavy()), scheduler.ErrWeightTooLarge, "Enqueue of weight 3 at cap 2")
	h := heavy()
	require.NoError(t, s.Force(h), "Force of weight 3 at cap 2")
	<-started
	st := s.Stats()
	assert.Equal(t, 1, st.OverCap, "OverCap while it runs")
	assert.Equal(t, 3, st.OverCapSlots, "OverCapSlots while it runs")
	assert.Zero(t, st.InUse, "InUse while it runs: it holds no slot under the cap")
	close(release)
	v, err := h.Await(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	require.NoError(t, s.Wait(context.Background()))
	st = s.Stats()
	assert.Zero(t, st.OverCap, "OverCap after it")
	assert.Zero(t, st.OverCapSlots, "OverCapSlots after it")
	assert.EqualValues(t, 1, st.ForceRuns, "ForceRuns")
}
