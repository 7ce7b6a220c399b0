package scheduler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestPeakRunningNeverExceedsTheCapUnderManySubmitters(t *testing.T) {
	// I3: 8 goroutines submit 5,000 tasks each with weights 1-3 under a
	// cap of 8. Each task adds its weight to a running total while its
	// function runs: the total is raised after admission and lowered
	// before release, so it never overstates what holds slots.
	const (
		limit      = 8
		submitters = 8
		perSub     = 5000
		total      = submitters * perSub
	)
	s := startScheduler(t, scheduler.WithLimit(limit))
	var p peak
	var overStats sync.Once
	var badStats scheduler.Stats
	var wg sync.WaitGroup
	for i := range submitters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 42))
			for j := range perSub {
				w := int64(1 + r.IntN(3))
				_, err := scheduler.Go(s, func(ctx context.Context) error {
					p.enter(w)
					runtime.Gosched()
					p.leave(w)
					return nil
				}, lazytask.WithWeight(int(w)))
				if err != nil {
					t.Errorf("Go(s, fn, WithWeight(%d)) = %v; want nil", w, err)
					return
				}
				if j%500 == 0 {
					if st := s.Stats(); st.InUse > st.Limit || st.OverCap != 0 {
						overStats.Do(func() { badStats = st })
					}
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Wait(bg), "Wait")
	if got := p.max.Load(); got > limit {
		t.Errorf("peak weighted running = %d; want <= %d (I3)", got, limit)
	}
	assert.Zero(t, badStats, "a Stats() snapshot had InUse > Limit or OverCap > 0")
	st := s.Stats()
	assert.Equal(t, uint64(total), st.Submitted, "Stats().Submitted")
	assert.Equal(t, uint64(total), st.Succeeded, "Stats().Succeeded")
	assert.Zero(t, st.OverCap+st.OverCapSlots, "Stats().OverCap + OverCapSlots without force-runs")
	assert.Zero(t, st.ForceRuns, "Stats().ForceRuns")
	assert.Zero(t, st.InUse, "Stats().InUse after Wait")
	assert.Zero(t, st.Running, "Stats().Running after Wait")
	assert.Zero(t, st.Queued, "Stats().Queued after Wait")
}

func TestQueuedTasksRunInPriorityOrderThenFIFO(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var log runLog
	prios := []int{0, 5, 0, 9, 5, -1, 9, 0, -1, 5}
	type entry struct {
		name string
		prio int
	}
	var want []entry
	for i, p := range prios {
		name := fmt.Sprintf("t%d(p%d)", i, p)
		h, err := scheduler.Submit(s, log.logged(name), lazytask.WithPriority(p))
		require.NoError(t, err)
		require.Equal(t, lazytask.Queued, h.State(), "State() of %s behind the holder", name)
		want = append(want, entry{name, p})
	}
	slices.SortStableFunc(want, func(a, b entry) int { return b.prio - a.prio })
	wantNames := make([]string, len(want))
	for i, e := range want {
		wantNames[i] = e.name
	}
	assert.Equal(t, len(prios), s.Stats().Queued, "Stats().Queued")
	g.open()
	require.NoError(t, s.Wait(bg))
	assert.Equal(t, wantNames, log.get(), "run order with cap 1")
}

func TestHeavyTaskAtTheHeadIsNotOvertaken(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(3))
	_, g := hold(t, s, lazytask.WithWeight(2)) // 1 slot free
	heavy, err := scheduler.Submit(s, func(context.Context) (int, error) { return 2, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	light, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	assert.Equal(t, lazytask.Queued, heavy.State(), "heavy.State() with 1 slot free")
	assert.Equal(t, lazytask.Queued, light.State(), "light.State() behind a heavy head (it fits, but must not overtake)")
	st := s.Stats()
	assert.Equal(t, 2, st.InUse, "Stats().InUse")
	assert.Equal(t, 2, st.Queued, "Stats().Queued")

	g.open()
	_, err = heavy.Await(bg)
	require.NoError(t, err)
	_, err = light.Await(bg)
	require.NoError(t, err)
	ht, lt := heavy.Timings(), light.Timings()
	assert.False(t, ht.Started.After(lt.Started), "heavy started %v after light %v; want heavy admitted first", ht.Started, lt.Started)
}

func TestSubmitNeverBlocksWithManyQueued(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	var runs [1000]bool
	hs := make([]*lazytask.Task[int], len(runs))
	for i := range hs {
		h, err := scheduler.Submit(s, func(context.Context) (int, error) { runs[i] = true; return i, nil })
		require.NoError(t, err)
		hs[i] = h
	}
	assert.Equal(t, len(runs), s.Stats().Queued, "Stats().Queued")
	g.open()
	for i, h := range hs {
		v, err := h.Await(bg)
		if v != i || err != nil {
			t.Fatalf("Await of task %d = %v, %v; want %d, nil", i, v, err, i)
		}
	}
	for i, ran := range runs {
		if !ran {
			t.Fatalf("task %d never ran", i)
		}
	}
}

func TestScheduledTaskTimingsAreOrdered(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithTimings())
	_, g := hold(t, s)
	h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	tm := h.Timings()
	assert.False(t, tm.Queued.IsZero(), "Timings().Queued of a queued task is zero")
	assert.True(t, tm.Started.IsZero(), "Timings().Started of a queued task = %v; want zero", tm.Started)
	g.open()
	_, err = h.Await(bg)
	require.NoError(t, err)
	tm = h.Timings()
	assert.False(t, tm.Created.After(tm.Queued), "Timings() Created %v after Queued %v", tm.Created, tm.Queued)
	assert.False(t, tm.Queued.After(tm.Started), "Timings() Queued %v after Started %v", tm.Queued, tm.Started)
	assert.False(t, tm.Started.After(tm.Finished), "Timings() Started %v after Finished %v", tm.Started, tm.Finished)
	assert.False(t, tm.Finished.IsZero(), "Timings().Finished once done")
}

func TestEnqueueRunsALazyTaskUnderTheCap(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	_, g := hold(t, s)
	h := lazytask.New(func(context.Context) (int, error) { return 5, nil }, lazytask.WithPriority(3))
	require.NoError(t, s.Enqueue(h), "Enqueue(lazy)")
	assert.Equal(t, lazytask.Queued, h.State(), "State() after Enqueue behind the holder")
	assert.Equal(t, 1, s.Stats().Queued, "Stats().Queued")
	g.open()
	v, err := h.Await(bg)
	if v != 5 || err != nil {
		t.Errorf("Await(bg) = %v, %v; want 5, nil", v, err)
	}
}

func TestStatsCountOutcomes(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	for i := range 9 {
		_, err := scheduler.Go(s, func(ctx context.Context) error {
			switch i % 3 {
			case 1:
				return errBoom
			case 2:
				panic("boom")
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.NoError(t, s.Wait(bg))
	st := s.Stats()
	assert.Equal(t, uint64(9), st.Submitted, "Stats().Submitted")
	assert.Equal(t, uint64(3), st.Succeeded, "Stats().Succeeded")
	assert.Equal(t, uint64(6), st.Failed, "Stats().Failed (errors and panics)")
	assert.Zero(t, st.Canceled, "Stats().Canceled")
	assert.Equal(t, 2, st.Limit, "Stats().Limit")
	assert.False(t, st.Unlimited, "Stats().Unlimited")
}

func TestWaitReturnsWithResultsPublished(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(2))
	hs := make([]*lazytask.Task[int], 200)
	for i := range hs {
		hs[i], _ = scheduler.Submit(s, func(context.Context) (int, error) { return i, nil })
	}
	require.NoError(t, s.Wait(bg))
	for i, h := range hs {
		if st := h.State(); st != lazytask.Succeeded {
			t.Fatalf("task %d State() after Wait = %v; want succeeded", i, st)
		}
	}
}

func TestUnlimitedAdmitsEverything(t *testing.T) {
	s := startScheduler(t, scheduler.Unlimited())
	const n = 20
	gates := make([]*gate, n)
	for i := range gates {
		gates[i] = newGate(t)
		_, err := scheduler.Submit(s, gates[i].fn, lazytask.WithWeight(1000))
		require.NoError(t, err, "Submit with weight 1000 and no cap")
	}
	for _, g := range gates {
		<-g.started // all run at once
	}
	st := s.Stats()
	assert.True(t, st.Unlimited, "Stats().Unlimited")
	assert.Zero(t, st.Limit, "Stats().Limit when unlimited")
	assert.Equal(t, n, st.Running, "Stats().Running")
	for _, g := range gates {
		g.open()
	}
	require.NoError(t, s.Wait(bg))
}
