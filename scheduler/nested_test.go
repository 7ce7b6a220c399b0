package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

func TestNestedFanOutWithTheOuterContextDoesNotDeadlock(t *testing.T) {
	// I9: with cap 2, two outer tasks take both slots and each submits and
	// awaits 4 inner tasks with its own context. Awaiting lends the outer
	// slot, so the inner tasks run. Inside a synctest bubble a deadlock
	// fails the test at once instead of hanging it.
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(2))
		outers := make([]*lazytask.Task[int], 2)
		for i := range outers {
			h, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
				inner := make([]*lazytask.Task[int], 4)
				for j := range inner {
					h, err := scheduler.Submit(s, func(context.Context) (int, error) { return 10*i + j, nil })
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
			want := 4*10*i + 6
			v, err := h.Await(bg)
			if v != want || err != nil {
				t.Errorf("outer %d Await = %v, %v; want %d, nil", i, v, err, want)
			}
		}
		require.NoError(t, s.Wait(bg))
		st := s.Stats()
		assert.Equal(t, uint64(10), st.Succeeded, "Stats().Succeeded")
		assert.Zero(t, st.InUse, "Stats().InUse after nested fan-out")
		assert.Zero(t, st.OverCap, "Stats().OverCap after nested fan-out")
		assert.Zero(t, st.OverCapSlots, "Stats().OverCapSlots after nested fan-out")
	})
}

func TestThreeLevelsOfNestingOnACapOfOneComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		var level func(depth int) func(context.Context) (int, error)
		level = func(depth int) func(context.Context) (int, error) {
			return func(ctx context.Context) (int, error) {
				if depth == 0 {
					return 1, nil
				}
				a, _ := scheduler.Submit(s, level(depth-1))
				b, _ := scheduler.Submit(s, level(depth-1))
				va, err := a.Await(ctx)
				if err != nil {
					return 0, err
				}
				vb, err := b.Await(ctx)
				return va + vb, err
			}
		}
		h, err := scheduler.Submit(s, level(3))
		require.NoError(t, err)
		v, err := h.Await(bg)
		if v != 8 || err != nil {
			t.Errorf("Await of a 3-level binary fan-out = %v, %v; want 8, nil", v, err)
		}
		require.NoError(t, s.Wait(bg))
		st := s.Stats()
		assert.Zero(t, st.InUse, "Stats().InUse")
		assert.Zero(t, st.OverCapSlots, "Stats().OverCapSlots")
	})
}

func TestAwaitWithTheOuterContextKeepsRunningTasksWithinTheCap(t *testing.T) {
	// While an outer task lends its slot, the tasks that run in it plus
	// the outer tasks that took their slots back stay within the cap, or
	// are counted over it.
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(2))
		var p peak
		outers := make([]*lazytask.Task[int], 4)
		for i := range outers {
			outers[i], _ = scheduler.Submit(s, func(ctx context.Context) (int, error) {
				inner := make([]*lazytask.Task[int], 3)
				for j := range inner {
					inner[j], _ = scheduler.Submit(s, func(context.Context) (int, error) {
						p.enter(1)
						defer p.leave(1)
						if st := s.Stats(); st.InUse > st.Limit {
							t.Errorf("Stats().InUse = %d > Limit %d inside a nested task", st.InUse, st.Limit)
						}
						return 1, nil
					})
				}
				n := 0
				for _, h := range inner {
					v, err := h.Await(ctx)
					if err != nil {
						return 0, err
					}
					n += v
				}
				return n, nil
			})
		}
		for _, h := range outers {
			v, err := h.Await(bg)
			require.NoError(t, err)
			assert.Equal(t, 3, v)
		}
		if got := p.max.Load(); got > 2 {
			t.Errorf("peak inner tasks running = %d; want <= 2 (the cap)", got)
		}
	})
}
