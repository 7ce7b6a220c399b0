package errgroup_test

// Hostile tests of errgroup's use of core.Gate (commit 4e7a08c): Go blocked
// at the limit waits on g.gate (any end of a function gives the slot back),
// Wait on g.all (held while functions are active, so only the last end
// does). Every wait is bounded by a hang guard; none relies on timing.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func hgReleaseSignal(signal chan struct{}) {
	select {
	case <-signal:
	default:
		close(signal)
	}
}

// hgBackground launches a task B of s that waits for signal (at cap 1 it
// is queued while the caller runs).
func hgBackground(s *scheduler.Scheduler, b **lazytask.Task[struct{}], signal chan struct{}) error {
	var err error
	*b, err = scheduler.Go(s, func(context.Context) error { <-signal; return nil }, lazytask.WithName("background"))
	return err
}

// Failed on 4e7a08c and on b8aaa75, fixed by errgroup's blockGo (older
// than 4e7a08c): Go called
// from inside a function of an In group, at the limit, while the outer
// task waits in Wait, at cap 1. x/sync's errgroup runs this (the other
// function ends and frees the limit). Here Go's block lends g.lend's slot
// (the outer task's, already lent by Wait: the loans nest, nothing is
// freed), not the calling function's: f1 blocks holding the only slot and
// f2, which would free the limit, stays Queued. A deadlock (I9).
func TestHostileGateGoFromInsideAFunctionAtTheLimitWhileWaitAtCapOne(t *testing.T) {
	t.Skip("known limitation, open: Go at the limit from inside a function of the group keeps that function's slot while it blocks (x/sync gives a function no context naming its task; lending another's slot let a task run over the cap uncounted); at a cap not above the limit it hangs")
	s := newScheduler(t, scheduler.WithLimit(1))
	var ran3 bool
	done := make(chan error, 1)
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(2)
		g.Go(func() error {
			g.Go(func() error { ran3 = true; return nil }) // blocks at the limit until f2 ends
			return nil
		})
		g.Go(func() error { return nil })
		err := g.Wait()
		done <- err
		return err
	}, lazytask.WithName("outer"))
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.True(t, ran3)
	case <-time.After(hiHang):
		// Shutdown in the cleanup cancels f2 (queued): its end frees the
		// limit and everything unwinds.
		t.Errorf("outer task still %v: Go at the limit from inside a function holds the only slot (stats %+v)", h.State(), s.Stats())
	}
}

// Go blocked at the limit in the outer task at cap 1: the function that
// frees the limit launched B; once Go returns, B is still Queued (the end
// that ended Go's wait gave the slot back first).
func TestHostileGateGoAtTheLimitGetsTheSlotBackAheadOfBAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		g.Go(func() error { return hgBackground(s, &b, signal) })
		g.Go(func() error { return nil }) // blocks until the first ends
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once Go returned; want Queued", st)
		}
		close(signal)
		return g.Wait()
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Functions that call TryGo and Go (no limit) while Wait blocks, at cap 1:
// only the last end may give the slot back; the last launches B, which is
// Queued once Wait returns.
func TestHostileGateGoFromInsideWhileWaitAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.Go(func() error {
			if !g.TryGo(func() error {
				g.Go(func() error { return hgBackground(s, &b, signal) })
				return nil
			}) {
				return errors.New("TryGo without a limit refused")
			}
			return nil
		})
		if err := g.Wait(); err != nil {
			return err
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once Wait returned; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Wait twice, then a second round on the same group (gates and their
// holds outlive the first round), at cap 1 with SetLimit(1): the second
// round's last function launches B; B is Queued once Wait returns.
func TestHostileGateReuseAfterWaitAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	signal := make(chan struct{})
	defer hgReleaseSignal(signal)
	var b *lazytask.Task[struct{}]
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		for range 3 {
			g.Go(func() error { return nil })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := g.Wait(); err != nil {
			return err
		}
		g.Go(func() error { return nil })
		g.Go(func() error { return hgBackground(s, &b, signal) })
		if err := g.Wait(); err != nil {
			return err
		}
		if st := b.State(); st != lazytask.Queued {
			return fmt.Errorf("B is %v once the second round's Wait returned; want Queued", st)
		}
		close(signal)
		return nil
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Failed intermittently on 4e7a08c, fixed by errgroup's token handoff
// (limit.go) (cap1: 1 in 30 to 3 in 15 runs, -race;
// 15/15 pass on b8aaa75). Two goroutines of the outer task call Go at
// limit 1 on the same group (x/sync allows it); the outer task then waits.
// Reading: goroutine A lends on g.gate and, before it parks in its send on
// g.sem, the running function ends and frees the token; goroutine B's
// non-blocking fast path in Go takes it; the function's Release then sees
// g.gate waiting (A, OwnerWord 1) and hands the outer task its slot back
// early. A's wait is not about to end: it parks on a full sem, holding the
// only slot, and B's function, which holds the token, stays Queued
// (observed: InUse 1, Running 1, Queued 1). "Any watched end ends the
// wait" does not hold for a semaphore others can barge into.
func TestHostileGateTwoGoroutinesGoAtTheLimitAtCapOne(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			p := &hiProbe{s: s}
			_, err := hiOuter(t, s, func(ctx context.Context) error {
				g, _ := errgroup.In(ctx, s)
				g.SetLimit(1)
				fin := make(chan struct{}, 2)
				for range 2 {
					go func() {
						for range 5 {
							g.Go(p.leaf)
						}
						fin <- struct{}{}
					}()
				}
				<-fin
				<-fin
				return g.Wait()
			})
			require.NoError(t, err)
			p.check(t, limit)
			hiIdle(t, s)
		})
	}
}

// The group's scope is canceled while Wait blocks: queued functions end
// without running (their ends drop the hold only in their callbacks);
// Wait returns the cause; no hang, counters at 0.
func TestHostileGateScopeCanceledWhileWaitAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	stop := errors.New("stop")
	var werr error
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		g, gctx := errgroup.In(ctx, sc)
		g.SetLimit(2)
		g.Go(func() error { sc.Cancel(stop); <-gctx.Done(); return context.Cause(gctx) })
		for range 3 {
			g.Go(func() error { return nil })
		}
		werr = g.Wait()
		return nil
	})
	require.NoError(t, err)
	assert.ErrorIs(t, werr, stop)
	hiIdle(t, s)
}

// A function that panics under pondexec (the pool recovers), from inside a
// task at cap 1 while the outer task waits; the panicking function is the
// last to end. Wait returns a *PanicError; no hang; counters at 0.
func TestHostileGatePanicUnderPondexecInsideAtCapOne(t *testing.T) {
	pool := pond.NewPool(4)
	defer pool.StopAndWait()
	s, err := pondexec.New(pool, scheduler.WithLimit(1))
	require.NoError(t, err)
	var werr error
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		g.Go(func() error { return nil })
		g.Go(func() error { panic("boom") })
		werr = g.Wait()
		return nil
	})
	require.NoError(t, err)
	var pe *lazytask.PanicError
	require.ErrorAs(t, werr, &pe)
	hiIdle(t, s)
	require.NoError(t, s.Shutdown(bounded(t)))
}

// Weight 2 outer task at cap 2 in Wait, functions of weight 1 in a scope
// of its own cap 1: the outer task gets both slots back only at the last
// end; nothing hangs, counters end at 0.
func TestHostileGateWeightedWaitOnCappedScopeAtCapTwo(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithLimit(1))
	require.NoError(t, err)
	p := &hiProbe{s: s}
	h, err := scheduler.Go(s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, sc)
		for range 4 {
			g.Go(p.leaf)
		}
		return g.Wait()
	}, lazytask.WithWeight(2))
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer still %v (stats %+v)", h.State(), s.Stats())
	}
	require.NoError(t, h.Err())
	p.check(t, 1)
	hiIdle(t, s)
}
