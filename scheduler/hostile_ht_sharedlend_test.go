package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// I9 under a shared limit, nested below the shared cap: a chain of tasks,
// each awaiting the next it submitted to the same scope of local cap 1,
// as deep as the shared cap allows (each waiter keeps its permit, the
// documented limitation). Each waiter lends its local slot, so the chain
// ends; the local cap holds for the tasks not waiting, and every permit
// comes back.
func TestHostileHTSharedNestedChainBelowTheSharedCap(t *testing.T) {
	for _, depth := range []int{1, 2, 3} {
		for _, weight := range []int{1, 2} {
			t.Run(fmt.Sprintf("depth%d-w%d", depth, weight), func(t *testing.T) {
				l, err := limiter.NewLocal(int64(depth * weight))
				require.NoError(t, err)
				s := hsSched(t, scheduler.WithLimit(weight))
				top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
				x := hsScope(t, top, scheduler.WithLimit(weight))
				var in htSlots
				var chain func(n int) func(context.Context) (int, error)
				chain = func(n int) func(context.Context) (int, error) {
					return func(ctx context.Context) (int, error) {
						if got := in.enter(int64(weight)); got > int64(weight) {
							return 0, fmt.Errorf("%d slots run in x, cap %d", got, weight)
						}
						if n == 1 {
							in.leave(int64(weight))
							return 1, nil
						}
						h, err := scheduler.Submit(x, chain(n-1), lazytask.WithWeight(weight))
						if err != nil {
							return 0, err
						}
						in.leave(int64(weight)) // lends its slot while it waits
						v, err := h.Await(ctx)
						return v + 1, err
					}
				}
				h, err := scheduler.Submit(x, chain(depth), lazytask.WithWeight(weight))
				require.NoError(t, err)
				v, err := hsAwait(t, h)
				require.NoError(t, err)
				require.Equal(t, depth, v)
				require.NoError(t, s.Shutdown(bg))
				require.Zero(t, l.InUse())
				require.Zero(t, l.Waiting())
				st := x.Stats()
				require.Equal(t, uint64(depth), st.Succeeded, "%+v", st)
				require.Zero(t, st.OverCap+st.InUse, "%+v", st)
			})
		}
	}
}

// lostLimit is a Local that keeps the Lost function of each grant, so a
// test can say a lease was lost.
type lostLimit struct {
	*limiter.Local
	mu    sync.Mutex
	losts []func(error)
}

func (l *lostLimit) Acquire(req limiter.Request) func() {
	inner := req
	inner.Granted = func(p limiter.Permit, err error) {
		if p != nil {
			l.mu.Lock()
			l.losts = append(l.losts, req.Lost)
			l.mu.Unlock()
		}
		req.Granted(p, err)
	}
	return l.Local.Acquire(inner)
}

// A permit lost while its task waits from inside (its local slot lent):
// the task's context is canceled with the limit's cause, its wait ends,
// it ends with that cause, and its permit is still given back once; the
// task it waited for goes on and ends on its own.
func TestHostileHTSharedPermitLostWhileItsTaskWaitsInside(t *testing.T) {
	loc, err := limiter.NewLocal(1)
	require.NoError(t, err)
	l := &lostLimit{Local: loc}
	s := hsSched(t, scheduler.WithLimit(1))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	out := hsScope(t, s.Root())
	g := newGate(t)
	inner := make(chan *lazytask.Task[int], 1)
	waiting := make(chan struct{})
	a, err := scheduler.Submit(top, func(ctx context.Context) (int, error) {
		b, err := scheduler.Submit(out, g.fn)
		if err != nil {
			return 0, err
		}
		inner <- b
		close(waiting)
		_, err = b.Await(ctx) // lends the root's only slot to b
		return 0, context.Cause(ctx)
	})
	require.NoError(t, err)
	hsWithin(t, waiting, "a waits for b")
	hsWithin(t, g.started, "b runs in the slot a lent")
	l.mu.Lock()
	require.Len(t, l.losts, 1)
	lost := l.losts[0]
	l.mu.Unlock()
	lost(limiter.ErrLeaseLost)
	_, err = hsAwait(t, a)
	require.ErrorIs(t, err, limiter.ErrLeaseLost)
	b := <-inner
	require.Equal(t, lazytask.Running, b.State(), "b goes on")
	g.open()
	_, err = hsAwait(t, b)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(bg))
	require.Zero(t, loc.InUse(), "a's permit is back")
	st := s.Stats()
	require.Zero(t, st.OverCap+st.InUse+st.Running, "%+v", st)
}
