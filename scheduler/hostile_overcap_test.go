package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Hostile tests of the run over the cap after a wait cut short by its
// context (ReclaimNow, I9). Helpers carry an "ho" prefix.

// hoCutter submits to sp a child that cuts wctx once it runs, then blocks
// until its own context ends; weight w.
func hoCutter(sp scheduler.Spawner, cut context.CancelFunc, w int) (*lazytask.Task[struct{}], error) {
	return scheduler.Go(sp, func(cctx context.Context) error {
		cut()
		<-cctx.Done()
		return context.Cause(cctx)
	}, lazytask.WithName("cutter"), lazytask.WithWeight(w))
}

// hoEnd checks the counters once everything has ended.
func hoEnd(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	require.NoError(t, s.Wait(context.Background()), "s.Wait")
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "Stats().InUse at the end")
	assert.Equal(t, 0, st.OverCap, "Stats().OverCap at the end")
	assert.Equal(t, 0, st.OverCapSlots, "Stats().OverCapSlots at the end")
	assert.Equal(t, 0, st.Running, "Stats().Running at the end")
}

// A task submitted while a heavy task runs over the cap waiting for its
// slots queues behind it. P (weight 2, cap 2) awaits a weight-1 child with
// a context the child cuts: P goes over the cap (2 slots) with one slot
// free, which it cannot take (it needs 2). A task submitted now queues
// behind P's reclaim (P keeps its place at the head). Before the fix
// enqueue's shortcut (run := s.queued == 0 && ... && sc.fitsPath(w))
// ignored s.reclaims, so it started: 4 slots in use at cap 2.
func TestHostileOverFreshSubmitDoesNotOvertakeAHeavyReclaimer(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(2))
	gE := scNewGate(t)
	var child *lazytask.Task[struct{}]
	var e *lazytask.Task[int]
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		var err error
		if child, err = hoCutter(s, cut, 1); err != nil {
			return err
		}
		if err := child.Wait(wctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cut-short wait = %v; want context.Canceled", err)
		}
		if st := s.Stats(); st.OverCap != 1 || st.OverCapSlots != 2 || st.InUse != 1 {
			return fmt.Errorf("after the cut-short wait: OverCap %d (%d slots), InUse %d; want 1 (2), 1", st.OverCap, st.OverCapSlots, st.InUse)
		}
		if e, err = scheduler.Submit(s, gE.fn, lazytask.WithName("E")); err != nil {
			return err
		}
		est := e.State()
		child.Cancel(nil)
		<-child.Done()
		st := s.Stats()
		gE.open()
		if est != lazytask.Queued {
			return fmt.Errorf("E submitted while P (weight 2) runs over the cap waiting for its slots: %v; want Queued behind P", est)
		}
		if st.OverCap != 0 || st.InUse != 2 {
			return fmt.Errorf("after the child ended: OverCap %d, InUse %d; want 0 and 2 (P's slots back)", st.OverCap, st.InUse)
		}
		return nil
	}, lazytask.WithName("P"), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	gE.open()
	hoEnd(t, s)
}

// A task over the cap after a cut-short wait keeps its place when a Resize
// makes its cap smaller than its weight, and gets its slots back once the
// cap is raised again and they are free. Before the fix grantReclaimsLocked
// dropped an over reclaim in its too-heavy branch, so the task ran counted
// over the cap until it ended, beside tasks admitted into its slots.
func TestHostileOverResizeDownAndUpGivesTheSlotsBack(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(2))
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		child, err := hoCutter(s, cut, 1)
		if err != nil {
			return err
		}
		if err := child.Wait(wctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cut-short wait = %v; want context.Canceled", err)
		}
		if err := s.Resize(1); err != nil {
			return err
		}
		if err := s.Resize(2); err != nil {
			return err
		}
		child.Cancel(nil)
		<-child.Done()
		if st := s.Stats(); st.OverCap != 0 || st.InUse != 2 {
			return fmt.Errorf("after Resize(1), Resize(2) and the child's end: OverCap %d, InUse %d; want 0 and 2 (P holds its slots again)", st.OverCap, st.InUse)
		}
		return nil
	}, lazytask.WithName("P"), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	hoEnd(t, s)
}

// Weight 2 at cap 2, no submit in between: P goes over, a queued task
// stays queued, P takes its 2 slots back only once both are free.
func TestHostileOverHeavyTaskTakesBothSlotsBackAheadOfTheQueue(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(2))
	gD := scNewGate(t)
	var q *lazytask.Task[struct{}]
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		child, err := hoCutter(s, cut, 1)
		if err != nil {
			return err
		}
		d, err := scheduler.Submit(s, gD.fn, lazytask.WithName("D"))
		if err != nil {
			return err
		}
		if q, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("Q")); err != nil {
			return err
		}
		if err := child.Wait(wctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cut-short wait = %v; want context.Canceled", err)
		}
		<-gD.started
		if st := s.Stats(); st.OverCap != 1 || st.InUse != 2 {
			return fmt.Errorf("over: OverCap %d, InUse %d; want 1 and 2", st.OverCap, st.InUse)
		}
		child.Cancel(nil)
		<-child.Done()
		if st := s.Stats(); st.OverCap != 1 || st.InUse != 1 || q.State() != lazytask.Queued {
			return fmt.Errorf("one slot free: OverCap %d, InUse %d, Q %v; want 1, 1, Queued", st.OverCap, st.InUse, q.State())
		}
		gD.open()
		<-d.Done()
		if st := s.Stats(); st.OverCap != 0 || st.InUse != 2 || q.State() != lazytask.Queued {
			return fmt.Errorf("both free: OverCap %d, InUse %d, Q %v; want 0, 2, Queued", st.OverCap, st.InUse, q.State())
		}
		return nil
	}, lazytask.WithName("P"), lazytask.WithWeight(2))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	_, err = cpAwait(t, q)
	assert.NoError(t, err, "Q")
	hoEnd(t, s)
}

// A nested scope with its own cap 1 under root cap 2: P goes over on the
// scope's cap; a queued sibling in the scope stays queued until P has its
// slot back and ended.
func TestHostileOverInNestedCappedScope(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(2))
	sc := scChild(t, s.Root(), scheduler.WithLimit(1), scheduler.WithName("inner"))
	var q *lazytask.Task[struct{}]
	p, err := scheduler.Go(sc, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		child, err := hoCutter(sc, cut, 1)
		if err != nil {
			return err
		}
		if q, err = scheduler.Go(sc, func(context.Context) error { return nil }, lazytask.WithName("Q")); err != nil {
			return err
		}
		if err := child.Wait(wctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cut-short wait = %v; want context.Canceled", err)
		}
		if st := s.Stats(); st.OverCap != 1 {
			return fmt.Errorf("over on the scope cap: OverCap %d; want 1", st.OverCap)
		}
		child.Cancel(nil)
		<-child.Done()
		if st := s.Stats(); st.OverCap != 0 || st.InUse != 1 || q.State() != lazytask.Queued {
			return fmt.Errorf("after the child: OverCap %d, InUse %d, Q %v; want 0, 1, Queued", st.OverCap, st.InUse, q.State())
		}
		return nil
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	_, err = cpAwait(t, q)
	assert.NoError(t, err, "Q")
	hoEnd(t, s)
}

// A force-run task (over the cap already) whose wait is cut short goes
// back over the cap, counted once; everything ends at zero.
func TestHostileOverForceRunTaskCutShort(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	_, gH := scHold(t, s, lazytask.WithName("H"))
	pIn := make(chan struct{})
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		child, err := hoCutter(s, cut, 1)
		if err != nil {
			return err
		}
		close(pIn)
		if err := child.Wait(wctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cut-short wait = %v; want context.Canceled", err)
		}
		if st := s.Stats(); st.OverCap != 1 || st.InUse != 1 {
			return fmt.Errorf("force-run P back from its wait: OverCap %d, InUse %d; want 1 and 1", st.OverCap, st.InUse)
		}
		child.Cancel(nil)
		<-child.Done()
		if st := s.Stats(); st.OverCap != 1 || st.InUse != 0 {
			return fmt.Errorf("after the child: OverCap %d, InUse %d; want 1 (force-run) and 0", st.OverCap, st.InUse)
		}
		return nil
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	require.NoError(t, s.Force(p), "Force(P)")
	cpWithin(t, pIn, "P force-run")
	gH.open()
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	hoEnd(t, s)
}

// Two goroutines of one task wait at once, one cut short, the other on
// the task's context: the cut-short one lends nothing back early, and the
// counters end at zero.
func TestHostileOverTwoGoroutinesOneCutShort(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	for _, cutFirst := range []bool{true, false} {
		var q *lazytask.Task[struct{}]
		p, err := scheduler.Go(s, func(ctx context.Context) error {
			wctx, cut := context.WithCancel(ctx)
			defer cut()
			gB := make(chan struct{})
			child, err := hoCutter(s, cut, 1)
			if err != nil {
				return err
			}
			other, err := scheduler.Go(s, func(context.Context) error { <-gB; return nil }, lazytask.WithName("other"))
			if err != nil {
				return err
			}
			if q, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("Q")); err != nil {
				return err
			}
			var wg sync.WaitGroup
			errA, errB := make(chan error, 1), make(chan error, 1)
			aDone := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); defer close(aDone); errA <- child.Wait(wctx) }()
			go func() { defer wg.Done(); errB <- other.Wait(ctx) }()
			if cutFirst {
				<-aDone // A cut short while B still waits
				child.Cancel(nil)
				close(gB)
			} else {
				<-aDone
				close(gB)
				child.Cancel(nil)
			}
			wg.Wait()
			if err := <-errA; !errors.Is(err, context.Canceled) {
				return fmt.Errorf("A = %v; want context.Canceled", err)
			}
			if err := <-errB; err != nil {
				return fmt.Errorf("B = %v", err)
			}
			<-child.Done()
			if st := s.Stats(); st.InUse != 1 {
				return fmt.Errorf("both back: InUse %d, OverCap %d; want 1 (P), 0", st.InUse, st.OverCap)
			}
			return nil
		}, lazytask.WithName("P"))
		require.NoError(t, err, "Submit(P)")
		_, err = cpAwait(t, p)
		assert.NoErrorf(t, err, "P (cutFirst %v)", cutFirst)
		_, err = cpAwait(t, q)
		assert.NoError(t, err, "Q")
		hoEnd(t, s)
	}
}

// A task canceled (its scope canceled) while over the cap after a cut-short
// wait ends and gives back nothing it does not hold.
func TestHostileOverTaskCanceledWhileOver(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	sc := scChild(t, s.Root(), scheduler.WithName("victim"))
	over := make(chan struct{})
	var child *lazytask.Task[struct{}]
	p, err := scheduler.Go(sc, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		var err error
		if child, err = hoCutter(s, cut, 1); err != nil {
			return err
		}
		_ = child.Wait(wctx)
		close(over)
		<-ctx.Done()
		return context.Cause(ctx)
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	cpWithin(t, over, "P over the cap")
	assert.Equal(t, 1, s.Stats().OverCap, "OverCap while P is over")
	sc.Cancel(nil)
	_, _ = cpAwait(t, p)
	st := s.Stats()
	assert.Equal(t, 0, st.OverCap, "OverCap once P ended")
	assert.Equal(t, 1, st.InUse, "InUse: the child's slot")
	child.Cancel(nil)
	hoEnd(t, s)
}

// Shutdown with a grace period already over, from outside, while a task
// runs over the cap: everything ends, counters at zero.
func TestHostileOverShutdownPastGraceWhileOver(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	over := make(chan struct{})
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		child, err := hoCutter(s, cut, 1)
		if err != nil {
			return err
		}
		if _, err := scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("Q")); err != nil {
			return err
		}
		_ = child.Wait(wctx)
		close(over)
		<-ctx.Done()
		return nil
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	cpWithin(t, over, "P over the cap")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = cpShutdown(t, s, ctx)
	_, _ = cpAwait(t, p)
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "InUse after Shutdown")
	assert.Equal(t, 0, st.OverCap, "OverCap after Shutdown")
	assert.Equal(t, 0, st.Running, "Running after Shutdown")
}

// When the awaited task ends at the moment the context is cut, a queued
// task must not be admitted ahead of the waiter, and the waiter's run over
// the cap (if its wait was decided cut short while the child still ran)
// must end with the child. P (weight w, cap 2) awaits a child that cuts
// P's wait context and returns; Q (weight 2) is queued. Before the fix,
// BeginWaitFor dropped P from the child's awaiters and read IsDone(child)
// before it took s.mu: the child's Release could run in between, find no
// awaiter, free the slot into the queue (Q started), and ReclaimNow, chosen
// on the stale !IsDone, sent P over the cap beside Q.
func TestHostileOverEarlyReclaimRacesTheCut(t *testing.T) {
	for _, w := range []int{1, 2} {
		s := cpSched(t, scheduler.WithLimit(2))
		const rounds = 200
		var ahead, overSeen int
		for range rounds {
			var q *lazytask.Task[struct{}]
			var qRanBeforeP bool
			var overAfter int
			p, err := scheduler.Go(s, func(ctx context.Context) error {
				wctx, cut := context.WithCancel(ctx)
				defer cut()
				child, err := scheduler.Go(s, func(context.Context) error { cut(); return nil }, lazytask.WithName("child"))
				if err != nil {
					return err
				}
				if q, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("Q"), lazytask.WithWeight(2)); err != nil {
					return err
				}
				_ = child.Wait(wctx)
				// P runs its own code again here: Q, queued before, must
				// not have started (it can only start once P ended).
				qRanBeforeP = q.State() != lazytask.Queued
				// Over the cap (a wait cut short while the child ran) only
				// until the child's slot is free.
				<-child.Done()
				overAfter = s.Stats().OverCap
				qRanBeforeP = qRanBeforeP || q.State() != lazytask.Queued
				return nil
			}, lazytask.WithName("P"), lazytask.WithWeight(w))
			require.NoError(t, err, "Submit(P)")
			_, err = cpAwait(t, p)
			require.NoErrorf(t, err, "P weight %d", w)
			_, err = cpAwait(t, q)
			require.NoError(t, err, "Q")
			hoEnd(t, s)
			if qRanBeforeP {
				ahead++
			}
			if overAfter != 0 {
				overSeen++
			}
		}
		assert.Equalf(t, 0, ahead, "weight %d: rounds where queued Q started before P ran its own code again = %d of %d; want 0", w, ahead, rounds)
		assert.Equalf(t, 0, overSeen, "weight %d: rounds where P was still over the cap after the task it awaited had ended = %d of %d; want 0", w, overSeen, rounds)
	}
}

// A wait on a goroutine the task left behind, cut short after the task
// ended: nothing goes over, nothing leaks.
func TestHostileOverLeftoverGoroutineCutShortAfterTheEnd(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	wctx, cut := context.WithCancel(context.Background())
	defer cut()
	waited := make(chan error, 1)
	var child *lazytask.Task[int]
	gC := scNewGate(t)
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		var err error
		if child, err = scheduler.Submit(s, gC.fn, lazytask.WithName("child")); err != nil {
			return err
		}
		mctx, stop := context.WithCancel(ctx)
		go func() { <-wctx.Done(); stop() }()
		started := make(chan struct{})
		go func() { close(started); waited <- child.Wait(mctx) }()
		<-started
		return nil
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	require.NoError(t, err, "P")
	cut()
	errW := make(chan struct{})
	go func() { <-waited; close(errW) }()
	cpWithin(t, errW, "the left-over wait")
	gC.open()
	hoEnd(t, s)
}

// Resize up while a task is over the cap after a cut-short wait: the
// raised cap hands it its slot at once, ahead of a queued task.
func TestHostileOverResizeUpHandsTheSlotBack(t *testing.T) {
	s := cpSched(t, scheduler.WithLimit(1))
	var q *lazytask.Task[struct{}]
	var child *lazytask.Task[struct{}]
	p, err := scheduler.Go(s, func(ctx context.Context) error {
		wctx, cut := context.WithCancel(ctx)
		defer cut()
		var err error
		if child, err = hoCutter(s, cut, 1); err != nil {
			return err
		}
		if q, err = scheduler.Go(s, func(context.Context) error { return nil }, lazytask.WithName("Q")); err != nil {
			return err
		}
		_ = child.Wait(wctx)
		if err := s.Resize(2); err != nil {
			return err
		}
		if st := s.Stats(); st.OverCap != 0 || st.InUse != 2 || q.State() != lazytask.Queued {
			return fmt.Errorf("after Resize(2): OverCap %d, InUse %d, Q %v; want 0, 2, Queued", st.OverCap, st.InUse, q.State())
		}
		child.Cancel(nil)
		<-child.Done()
		return nil
	}, lazytask.WithName("P"))
	require.NoError(t, err, "Submit(P)")
	_, err = cpAwait(t, p)
	assert.NoError(t, err, "P")
	_, err = cpAwait(t, q)
	assert.NoError(t, err, "Q")
	hoEnd(t, s)
}
