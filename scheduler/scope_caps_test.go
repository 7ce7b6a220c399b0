package scheduler_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Issue 3, item 3: nested caps; item 4: nested fan-out (I9).

func TestScopeCapsHoldPerScopeAndOverallUnderConcurrentSubmitters(t *testing.T) {
	// "64 overall and at most 4 per host", scaled down: 8 overall, 2 per
	// host, 6 hosts, one submitter per host plus one that spreads its
	// tasks over every host.
	const (
		overall = 8
		perHost = 2
		hosts   = 6
		perSub  = 60
	)
	s := scSched(t, scheduler.WithLimit(overall))
	var all scPeak
	scopes := make([]*scheduler.Scope, hosts)
	peaks := make([]*scPeak, hosts)
	for i := range scopes {
		scopes[i] = scChild(t, s.Root(), scheduler.WithName(fmt.Sprintf("host%d", i)), scheduler.WithLimit(perHost))
		peaks[i] = new(scPeak)
	}
	task := func(i int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			all.enter()
			peaks[i].enter()
			for range 20 {
				runtime.Gosched()
			}
			peaks[i].leave()
			all.leave()
			return 1, nil
		}
	}
	var wg sync.WaitGroup
	var refused atomic.Int32
	for sub := range hosts + 1 {
		wg.Go(func() {
			for j := range perSub {
				i := sub
				if sub == hosts {
					i = j % hosts
				}
				if _, err := scheduler.Submit(scopes[i], task(i)); err != nil {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Wait(context.Background()))
	assert.Zero(t, refused.Load(), "refused submissions")
	for i, p := range peaks {
		if m := p.max.Load(); m > perHost {
			t.Errorf("peak running in host%d = %d; want <= %d", i, m, perHost)
		}
	}
	if m := all.max.Load(); m > overall {
		t.Errorf("peak running overall = %d; want <= %d", m, overall)
	}
	st := s.Stats()
	assert.Equal(t, uint64((hosts+1)*perSub), st.Succeeded, "Stats().Succeeded")
	assert.Zero(t, st.InUse, "Stats().InUse after Wait")
	for _, sc := range scopes {
		assert.Zero(t, sc.Snapshot().InUse, "%s InUse after Wait", sc.Name())
	}
}

func TestScopeAtItsCapDoesNotBlockTasksOfAnotherScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := scSched(t, scheduler.WithLimit(4))
		a := scChild(t, s.Root(), scheduler.WithName("a"), scheduler.WithLimit(2))
		b := scChild(t, s.Root(), scheduler.WithName("b"), scheduler.WithLimit(2))
		_, ga := scHold(t, a)
		_, gb := scHold(t, a)
		var runsA atomic.Int32
		queuedA := make([]*lazytask.Task[int], 3)
		for i := range queuedA {
			queuedA[i], _ = scheduler.Submit(a, scCount(&runsA)) // queued before b's
		}
		for i := range 4 {
			h, err := scheduler.Submit(b, func(context.Context) (int, error) { return i, nil })
			require.NoError(t, err)
			// Inside the bubble a task that can never run fails the test
			// with a deadlock instead of hanging.
			v, err := h.Await(context.Background())
			if v != i || err != nil {
				t.Errorf("Await of b's task %d while a is full = %v, %v; want %d, nil", i, v, err, i)
			}
		}
		assert.Zero(t, runsA.Load(), "runs of a's queued tasks while a is full")
		for i, h := range queuedA {
			assert.Equal(t, lazytask.Queued, h.State(), "a's queued task %d State()", i)
		}
		ga.open()
		gb.open()
		require.NoError(t, a.Wait(context.Background()))
		assert.Equal(t, int32(3), runsA.Load(), "runs of a's queued tasks once a has room")
	})
}

func TestScopeForceRunBypassesEveryCapAndIsCounted(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(2))
	a := scChild(t, s.Root(), scheduler.WithName("a"), scheduler.WithLimit(1))
	b := scChild(t, s.Root(), scheduler.WithName("b"))
	_, _ = scHold(t, a) // a is full
	_, _ = scHold(t, b) // and with it the root
	g1, g2 := scNewGate(t), scNewGate(t)
	q1, err := scheduler.Submit(a, g1.fn, lazytask.WithName("forced"))
	require.NoError(t, err)
	q2, err := scheduler.Submit(a, g2.fn, lazytask.WithName("started"))
	require.NoError(t, err)
	require.Equal(t, [2]lazytask.State{lazytask.Queued, lazytask.Queued}, [2]lazytask.State{q1.State(), q2.State()})

	require.NoError(t, a.Force(q1), "a.Force(queued task)")
	<-g1.started
	st := s.Stats()
	assert.Equal(t, 1, st.OverCap, "Stats().OverCap with one force-run")
	assert.Equal(t, 1, st.OverCapSlots, "Stats().OverCapSlots with one force-run")
	assert.Equal(t, uint64(1), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, 2, st.InUse, "Stats().InUse: the force-run takes no slot")
	assert.True(t, q1.Info().OverCap, "Info().OverCap of the forced task")

	require.NoError(t, q2.Start(), "Start() of a queued task")
	<-g2.started
	st = s.Stats()
	assert.Equal(t, 2, st.OverCap, "Stats().OverCap with two force-runs")
	assert.Equal(t, uint64(2), st.ForceRuns, "Stats().ForceRuns")
	assert.Equal(t, 4, st.Running, "Stats().Running")
	as := a.Snapshot()
	assert.Equal(t, 3, as.Running, "a's Running (cap 1, two forced)")
	assert.Equal(t, 1, as.InUse, "a's InUse: force-runs take no slot of a")
	var over []string
	for _, ts := range as.Tasks {
		if ts.OverCap {
			over = append(over, ts.Name)
		}
	}
	assert.ElementsMatch(t, []string{"forced", "started"}, over, "tasks of a marked OverCap in the snapshot")

	g1.open()
	g2.open()
	_, _ = q1.Await(context.Background())
	_, _ = q2.Await(context.Background())
	st = s.Stats()
	assert.Zero(t, st.OverCap, "Stats().OverCap after the force-runs ended")
	assert.Zero(t, st.OverCapSlots, "Stats().OverCapSlots after the force-runs ended")
	assert.Equal(t, uint64(2), st.ForceRuns, "Stats().ForceRuns is a total")
}

func TestScopeWeightAboveACapOnThePathIsErrWeightTooLarge(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	a := scChild(t, s.Root(), scheduler.WithName("a"), scheduler.WithLimit(2))
	a1 := scChild(t, a, scheduler.WithName("a1")) // no cap of its own
	var runs atomic.Int32
	for _, tc := range []struct {
		name   string
		sp     scheduler.Spawner
		weight int
	}{
		{"scope a, cap 2", a, 3},
		{"child of a without a cap", a1, 3},
		{"root, cap 8", s, 9},
	} {
		h, err := scheduler.Submit(tc.sp, scCount(&runs), lazytask.WithWeight(tc.weight))
		if !assert.ErrorIs(t, err, scheduler.ErrWeightTooLarge, "Submit(%s, weight %d)", tc.name, tc.weight) {
			continue
		}
		assert.Equal(t, lazytask.Failed, h.State(), "State() of a task too heavy for %s", tc.name)
		assert.ErrorIs(t, h.Err(), scheduler.ErrWeightTooLarge, "Err() of a task too heavy for %s", tc.name)
	}
	lazy := scheduler.NewTask(a1, scCount(&runs), lazytask.WithWeight(3))
	assert.ErrorIs(t, a1.Enqueue(lazy), scheduler.ErrWeightTooLarge, "Enqueue of a bound task too heavy for a")
	assert.Equal(t, lazytask.Lazy, lazy.State(), "a refused Lazy task is left Lazy")

	h, err := scheduler.Submit(a1, scCount(&runs), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(weight equal to the cap)")
	_, err = h.Await(context.Background())
	assert.NoError(t, err)
	assert.Equal(t, int32(1), runs.Load(), "runs")
}

func TestScopeResizeUpAdmitsWaitingTasks(t *testing.T) {
	s := scSched(t, scheduler.WithLimit(8))
	a := scChild(t, s.Root(), scheduler.WithName("a"), scheduler.WithLimit(1))
	_, _ = scHold(t, a)
	gates := []*scGate{scNewGate(t), scNewGate(t)}
	for _, g := range gates {
		_, err := scheduler.Submit(a, g.fn)
		require.NoError(t, err)
	}
	snap := a.Snapshot()
	require.Equal(t, [2]int{1, 2}, [2]int{snap.Running, snap.Queued}, "a's Running, Queued before Resize")

	require.NoError(t, a.Resize(3), "a.Resize(3)")
	for _, g := range gates {
		<-g.started // both waiting tasks run while the holder still holds
	}
	snap = a.Snapshot()
	assert.Equal(t, [3]int{3, 3, 0}, [3]int{snap.Limit, snap.Running, snap.Queued}, "a's Limit, Running, Queued after Resize(3)")
	assert.ErrorIs(t, a.Resize(0), scheduler.ErrInvalidLimit, "a.Resize(0)")
	assert.Equal(t, 3, a.Snapshot().Limit, "a's Limit after a refused Resize")
}

func TestScopeNestedFanOutAtScaleCompletes(t *testing.T) {
	// I9, pond #56 at a larger scale: cap 4, 8 outer tasks each await 8
	// inner ones with their own context. Inside the bubble a deadlock
	// fails the test at once.
	for _, tc := range []struct {
		name  string
		split bool // outer and inner tasks in two capped child scopes
	}{{"root", false}, {"scopes", true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := scSched(t, scheduler.WithLimit(4))
				var outerSp, innerSp scheduler.Spawner = s, s
				if tc.split {
					outerSp = scChild(t, s.Root(), scheduler.WithName("outer"), scheduler.WithLimit(3))
					innerSp = scChild(t, s.Root(), scheduler.WithName("inner"), scheduler.WithLimit(2))
				}
				outers := make([]*lazytask.Task[int], 8)
				for i := range outers {
					h, err := scheduler.Submit(outerSp, func(ctx context.Context) (int, error) {
						inner := make([]*lazytask.Task[int], 8)
						for j := range inner {
							h, err := scheduler.Submit(innerSp, func(context.Context) (int, error) { return 100*i + j, nil })
							if err != nil {
								return 0, err
							}
							inner[j] = h
						}
						sum := 0
						for _, h := range inner {
							v, err := h.Await(ctx)
							if err != nil {
								return 0, err
							}
							sum += v
						}
						return sum, nil
					})
					require.NoError(t, err)
					outers[i] = h
				}
				for i, h := range outers {
					want := 8*100*i + 28
					v, err := h.Await(context.Background())
					if v != want || err != nil {
						t.Errorf("outer %d Await = %v, %v; want %d, nil", i, v, err, want)
					}
				}
				require.NoError(t, s.Wait(context.Background()))
				st := s.Stats()
				assert.Equal(t, uint64(72), st.Succeeded, "Stats().Succeeded")
				assert.Zero(t, st.InUse, "Stats().InUse")
				assert.Zero(t, st.OverCap, "Stats().OverCap")
			})
		})
	}
}

func TestScopeLenderTakesItsSlotBackAheadOfTheQueue(t *testing.T) {
	// I9: an outer task lends its slot of scope a (cap 1) while it awaits
	// an inner task. The inner task's end hands the slot back to the outer
	// task, ahead of the tasks queued meanwhile, and nothing runs over the
	// cap.
	s := scSched(t, scheduler.WithLimit(4))
	a := scChild(t, s.Root(), scheduler.WithName("a"), scheduler.WithLimit(1))
	inner := scNewGate(t)
	outerGo := make(chan struct{})
	type view struct {
		st      scheduler.Stats
		overCap bool
		err     error
	}
	views := make(chan view, 1)
	outer, err := scheduler.Submit(a, func(ctx context.Context) (int, error) {
		h, err := scheduler.Submit(a, inner.fn)
		if err != nil {
			return 0, err
		}
		_, err = h.Await(ctx) // lends a's slot to the inner task
		views <- view{s.Stats(), lazytask.HandleOf(ctx).Info().OverCap, err}
		<-outerGo
		return 0, nil
	})
	require.NoError(t, err)
	<-inner.started // the outer task lent its slot: the inner one runs
	third, fourth := scNewGate(t), scNewGate(t)
	th, err := scheduler.Submit(a, third.fn)
	require.NoError(t, err)
	fo, err := scheduler.Submit(a, fourth.fn)
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, th.State(), "third task while the inner one holds a's slot")

	inner.open()
	v := <-views // the lender is back first, with its slot
	require.NoError(t, v.err, "Await of the inner task")
	assert.Zero(t, v.st.OverCap, "Stats().OverCap while the lender runs on")
	assert.Equal(t, 1, v.st.InUse, "Stats().InUse (the lender's slot)")
	assert.False(t, v.overCap, "lender's Info().OverCap")
	assert.Equal(t, lazytask.Queued, th.State(), "third task while the lender runs on")
	assert.Equal(t, lazytask.Queued, fo.State(), "fourth task while the lender runs on")

	close(outerGo)
	_, err = outer.Await(context.Background())
	require.NoError(t, err)
	<-third.started // the lender's end frees the slot for the task queued first
	assert.Equal(t, lazytask.Queued, fo.State(), "fourth task while the third runs")
	third.open()
	<-fourth.started
	assert.Zero(t, s.Stats().OverCap, "Stats().OverCap after the lender returned")
	fourth.open()
	require.NoError(t, s.Wait(context.Background()))
	assert.Zero(t, s.Stats().InUse, "Stats().InUse at the end")
}
