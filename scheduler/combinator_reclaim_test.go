package scheduler_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// A combinator's wait that ends with the last of its tasks, not cut short,
// waits for the caller's slot as Await does (I3): none of its tasks can
// hold a slot then, so nothing can deadlock. Task O of scope sub (cap 1,
// root cap 2) waits in each combinator for one child in the root; while O
// lends its slots, its sibling S takes sub's only one. When the child
// ends, O used to go on over the cap at once (Stats().OverCap 1) and run
// its own code beside S in a cap-1 scope; now it waits for S. Found by a
// hostile probe (Kotlin/asyncio semantics), 2026-12-06.
func TestCombinatorWaitEndedByItsLastTaskWaitsForTheSlot(t *testing.T) {
	waits := map[string]func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error{
		"Await": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			h, err := scheduler.Submit(s, child)
			if err == nil {
				_, err = h.Await(ctx)
			}
			return err
		},
		"Gather": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			_, err := factory.Gather(ctx, s, child)
			return err
		},
		"Race": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			_, err := factory.Race(ctx, s, child)
			return err
		},
		"Map": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			_, err := factory.Map(ctx, s, []int{0}, 1, func(ctx context.Context, _ int) (int, error) { return child(ctx) })
			return err
		},
		"AsCompleted": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			for _, r := range factory.AsCompleted(ctx, s, child) {
				if r.Err != nil {
					return r.Err
				}
			}
			return nil
		},
		"Completed": func(ctx context.Context, s *scheduler.Scheduler, child func(context.Context) (int, error)) error {
			h, err := scheduler.Submit(s, child)
			if err != nil {
				return err
			}
			for range factory.Completed(ctx, h) {
			}
			return nil
		},
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s := scSched(t, scheduler.WithLimit(2))
			sub, err := s.Root().NewScope(scheduler.WithName("sub"), scheduler.WithLimit(1))
			require.NoError(t, err)
			oStarted, proceed := make(chan struct{}), make(chan struct{})
			childGate, childDone := make(chan struct{}), make(chan struct{})
			sStarted, sGate := make(chan struct{}), make(chan struct{})
			sRunning := make(chan bool, 1)
			child := func(context.Context) (int, error) { <-childGate; close(childDone); return 1, nil }
			o, err := scheduler.Submit(sub, func(ctx context.Context) (int, error) {
				close(oStarted)
				<-proceed
				if err := wait(ctx, s, child); err != nil {
					return 0, err
				}
				select {
				case <-sGate:
					sRunning <- false
				default:
					sRunning <- true
				}
				return 0, nil
			}, lazytask.WithName("O"))
			require.NoError(t, err)
			awaitCh(t, bound, oStarted, "O started")
			sTask, err := scheduler.Submit(sub, func(context.Context) (int, error) { close(sStarted); <-sGate; return 0, nil })
			require.NoError(t, err)
			close(proceed)
			awaitCh(t, bound, sStarted, "S admitted on the slot O lent")
			close(childGate)
			awaitCh(t, bound, childDone, "the child ended")
			// O is back from its wait: waiting for its slot, or (the bug)
			// over the cap, running its code, perhaps ended already.
			for scheduler.ReclaimWaiters(s) == 0 && s.Stats().OverCap == 0 && len(sRunning) == 0 {
				require.NoError(t, bound.Err(), "O neither waits for its slot nor runs")
				runtime.Gosched()
			}
			assert.Zero(t, s.Stats().OverCap, "root's OverCap once O is back from its wait while S runs")
			assert.Zero(t, sub.Stats().OverCap, "sub's OverCap once O is back from its wait while S runs")
			assert.Zero(t, len(sRunning), "O ran its code while S held sub's only slot")
			close(sGate)
			_, err = o.Await(bound)
			require.NoError(t, err, "O")
			assert.False(t, <-sRunning, "O ran its own code while S held sub's only slot")
			_, err = sTask.Await(bound)
			require.NoError(t, err, "S")
			assert.False(t, o.Info().OverCap, "O's Info().OverCap")
			require.NoError(t, s.Wait(bound))
			st := s.Stats()
			assert.Zero(t, st.OverCap, "OverCap at the end")
			assert.Zero(t, st.InUse, "InUse at the end")
		})
	}
}

// The same with two tasks in Gather, the first ending while S runs: that
// end may send O on over the cap (the other task could be waiting for one
// still queued), but once the second has ended O waits for its slot
// before Gather returns, instead of carrying the run over the cap into
// its own code (core.Gate.Settle).
func TestGatherWhoseFirstEndSentItOverTheCapWaitsAtItsLastEnd(t *testing.T) {
	for round := range 20 {
		bound, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s := scSched(t, scheduler.WithLimit(3))
		sub, err := s.Root().NewScope(scheduler.WithName("sub"), scheduler.WithLimit(1))
		require.NoError(t, err)
		oStarted, proceed := make(chan struct{}), make(chan struct{})
		aGate, aDone, bGate, bDone := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
		sStarted, sGate := make(chan struct{}), make(chan struct{})
		sRunning := make(chan bool, 1)
		o, err := scheduler.Submit(sub, func(ctx context.Context) (int, error) {
			close(oStarted)
			<-proceed
			_, err := factory.Gather(ctx, s,
				func(context.Context) (int, error) { <-aGate; close(aDone); return 1, nil },
				func(context.Context) (int, error) { <-bGate; close(bDone); return 2, nil })
			if err != nil {
				return 0, err
			}
			select {
			case <-sGate:
				sRunning <- false
			default:
				sRunning <- true
			}
			return 0, nil
		})
		require.NoError(t, err)
		awaitCh(t, bound, oStarted, "O started")
		sTask, err := scheduler.Submit(sub, func(context.Context) (int, error) { close(sStarted); <-sGate; return 0, nil })
		require.NoError(t, err)
		close(proceed)
		awaitCh(t, bound, sStarted, "S admitted on the slot O lent")
		close(aGate)
		awaitCh(t, bound, aDone, "the first task ended")
		close(bGate)
		awaitCh(t, bound, bDone, "the second task ended")
		for (scheduler.ReclaimWaiters(s) == 0 || s.Stats().OverCap != 0) && len(sRunning) == 0 {
			require.NoError(t, bound.Err(), "round %d: O neither waits for its slot nor runs (stats %+v)", round, s.Stats())
			runtime.Gosched()
		}
		assert.Zero(t, len(sRunning), "round %d: Gather returned while S held sub's only slot", round)
		close(sGate)
		_, err = o.Await(bound)
		require.NoError(t, err, "O")
		assert.False(t, <-sRunning, "round %d: O ran its own code while S held sub's only slot", round)
		_, err = sTask.Await(bound)
		require.NoError(t, err, "S")
		require.NoError(t, s.Wait(bound))
		st := s.Stats()
		assert.Zero(t, st.OverCap, "OverCap at the end")
		assert.Zero(t, st.InUse, "InUse at the end")
		cancel()
	}
}
