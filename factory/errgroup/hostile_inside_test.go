package errgroup_test

// Hostile tests of the errgroup drop-in used from inside tasks of a
// scheduler at caps 1 and 2 (asyncio TaskGroup, Trio nurseries, Kotlin
// coroutineScope): nested groups, limits, cancellation of the enclosing
// task, panics recovered by a pool, concurrent lending.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/errgroup"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

const hiHang = 10 * time.Second

func hiOuter(t *testing.T, s *scheduler.Scheduler, body func(ctx context.Context) error) (*lazytask.Task[struct{}], error) {
	t.Helper()
	h, err := scheduler.Go(s, body, lazytask.WithName("outer"))
	require.NoError(t, err, "Go(outer)")
	select {
	case <-h.Done():
	case <-time.After(hiHang):
		t.Fatalf("outer task still %v after %v: a hang (stats %+v)", h.State(), hiHang, s.Stats())
	}
	return h, h.Err()
}

func hiIdle(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, hiHang)
	defer cancel()
	require.NoError(t, s.Wait(ctx), "s.Wait")
	st := s.Stats()
	assert.Equal(t, 0, st.InUse, "InUse at the end")
	assert.Equal(t, 0, st.OverCap, "OverCap at the end")
	assert.Equal(t, 0, st.Running, "Running at the end")
	assert.Equal(t, 0, st.Queued, "Queued at the end")
}

// hiProbe counts leaf bodies at once and the peak OverCap seen.
type hiProbe struct {
	s                  *scheduler.Scheduler
	mu                 sync.Mutex
	now, peak, maxOver int
}

func (p *hiProbe) leaf() error {
	st := p.s.Stats()
	p.mu.Lock()
	p.now++
	p.peak = max(p.peak, p.now)
	p.maxOver = max(p.maxOver, st.OverCap)
	p.mu.Unlock()
	p.mu.Lock()
	p.now--
	p.mu.Unlock()
	return nil
}

func (p *hiProbe) check(t *testing.T, limit int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.LessOrEqual(t, p.peak, limit, "leaves at once")
	assert.Equal(t, 0, p.maxOver, "peak OverCap seen in leaves")
}

// Groups made with In, nested two deep inside a task, at caps 1 and 2,
// with and without SetLimit: no deadlock, the cap holds.
func TestHostileNestedInGroupsInsideATask(t *testing.T) {
	for _, limit := range []int{1, 2} {
		for _, glimit := range []int{-1, 1} {
			t.Run(fmt.Sprintf("cap%d/limit%d", limit, glimit), func(t *testing.T) {
				s := newScheduler(t, scheduler.WithLimit(limit))
				p := &hiProbe{s: s}
				_, err := hiOuter(t, s, func(ctx context.Context) error {
					g, gctx := errgroup.In(ctx, s)
					g.SetLimit(glimit)
					for range 3 {
						g.Go(func() error {
							inner, _ := errgroup.In(gctx, s)
							inner.SetLimit(glimit)
							for range 3 {
								inner.Go(p.leaf)
							}
							return inner.Wait()
						})
					}
					return g.Wait()
				})
				require.NoError(t, err)
				p.check(t, limit)
				hiIdle(t, s)
			})
		}
	}
}

// Trio: the enclosing task is canceled while its nursery waits. A
// function cancels the outer task with a cause; the others see the group's
// context done with that cause; Wait returns it; the outer ends Canceled.
func TestHostileInGroupOuterCanceledDuringWait(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			stop := errors.New("stop")
			var werr error
			h, _ := hiOuter(t, s, func(ctx context.Context) error {
				me := lazytask.HandleOf(ctx)
				g, gctx := errgroup.In(ctx, s)
				g.Go(func() error { me.Cancel(stop); <-gctx.Done(); return context.Cause(gctx) })
				for range 3 {
					g.Go(func() error { <-gctx.Done(); return context.Cause(gctx) })
				}
				werr = g.Wait()
				return werr
			})
			assert.ErrorIs(t, werr, stop, "Wait's error")
			assert.Equal(t, lazytask.Canceled, h.State())
			hiIdle(t, s)
		})
	}
}

// asyncio TaskGroup: the first error cancels the siblings, which are
// queued behind it at cap 1 or blocked at cap 2; Wait returns that error
// unwrapped.
func TestHostileInGroupFirstErrorCancelsSiblingsInside(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint("cap", limit), func(t *testing.T) {
			s := newScheduler(t, scheduler.WithLimit(limit))
			boom := errors.New("boom")
			var werr error
			_, err := hiOuter(t, s, func(ctx context.Context) error {
				g, gctx := errgroup.In(ctx, s)
				// The failing function first: a blocker queued ahead of it
				// at cap 1 would wait for an event only a queued task can
				// cause, a deadlock of the user's making under any cap.
				g.Go(func() error { return boom })
				for range 2 {
					g.Go(func() error { <-gctx.Done(); return context.Cause(gctx) })
				}
				werr = g.Wait()
				return nil
			})
			require.NoError(t, err)
			assert.Same(t, boom, werr)
			hiIdle(t, s)
		})
	}
}

// WithContext (not In) inside a task: the functions run on the group's own
// scheduler, each submits to s and awaits with the group's context, while
// the outer task waits in g.Wait: concurrent loans of the one slot.
func TestHostileWithContextGroupAwaitsOnTheOuterSchedulerAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	p := &hiProbe{s: s}
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		for range 4 {
			g.Go(func() error {
				h, err := scheduler.Go(s, func(context.Context) error { return p.leaf() })
				if err != nil {
					return err
				}
				return h.Wait(gctx)
			})
		}
		return g.Wait()
	})
	require.NoError(t, err)
	p.check(t, 1)
	hiIdle(t, s)
}

// Zero Group inside a task: its Wait has no context, so it lends nothing;
// its functions run on its own scheduler. A function that awaits a task of
// s with the outer's context lends the outer's slot from another goroutine.
func TestHostileZeroGroupInsideATaskAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		var g errgroup.Group
		for i := range 3 {
			g.Go(func() error {
				h, err := scheduler.Submit(s, func(context.Context) (int, error) { return i, nil })
				if err != nil {
					return err
				}
				_, err = h.Await(ctx)
				return err
			})
		}
		return g.Wait()
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// Go after the scope was canceled, from inside a task: the refusal is
// Wait's error; no function runs.
func TestHostileInGroupOnCanceledScopeInside(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	sc, err := s.Root().NewScope()
	require.NoError(t, err)
	sc.Cancel(nil)
	ran := false
	var werr error
	_, err = hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, sc)
		g.Go(func() error { ran = true; return nil })
		werr = g.Wait()
		return nil
	})
	require.NoError(t, err)
	assert.Error(t, werr, "Wait after a refused Go")
	assert.False(t, ran)
	hiIdle(t, s)
}

// TryGo at the limit inside a task never blocks; Go at limit 1 blocks and
// lends the slot; the functions still run.
func TestHostileInGroupTryGoAndBlockingGoInsideAtCapOne(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(1))
	_, err := hiOuter(t, s, func(ctx context.Context) error {
		g, _ := errgroup.In(ctx, s)
		g.SetLimit(1)
		release := make(chan struct{})
		g.Go(func() error { <-release; return nil })
		if g.TryGo(func() error { return nil }) {
			return errors.New("TryGo at the limit started a function")
		}
		close(release)
		for range 3 {
			g.Go(func() error { return nil })
		}
		return g.Wait()
	})
	require.NoError(t, err)
	hiIdle(t, s)
}

// I9: when g.Wait ends inside a task, the task takes its slot back ahead
// of tasks queued meanwhile. A function launches a background task B of s
// that waits for the outer task's signal, and returns; at cap 1, B must
// still be Queued when Wait returns. Repeated, as the order of the
// function's end and the outer task's wake-up is up to the runtime.
func TestHostileInGroupWaitGetsTheSlotBackAheadOfTasksQueuedMeanwhile(t *testing.T) {
	for i := range 30 {
		s := newScheduler(t, scheduler.WithLimit(1))
		signal := make(chan struct{})
		var b *lazytask.Task[struct{}]
		var state lazytask.State
		h, err := scheduler.Go(s, func(ctx context.Context) error {
			g, _ := errgroup.In(ctx, s)
			g.Go(func() error {
				var err error
				b, err = scheduler.Go(s, func(context.Context) error { <-signal; return nil })
				return err
			})
			if err := g.Wait(); err != nil {
				return err
			}
			state = b.State()
			close(signal)
			return nil
		})
		require.NoError(t, err)
		select {
		case <-h.Done():
		case <-time.After(hiHang):
			close(signal)
			t.Fatalf("round %d: outer task hung behind B (stats %+v)", i, s.Stats())
		}
		require.NoError(t, h.Err())
		require.Equal(t, lazytask.Queued, state, "round %d: B once Wait returned", i)
		hiIdle(t, s)
	}
}
