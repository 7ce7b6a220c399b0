package scheduler_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// takesOverLocked's aged comparison, d*step - (queued_c - queued_r) >=
// step, overflows int64 where keyBefore's does not: with a step of 2^31
// ns and the widest priority gap (MaxInt32 over MinInt32), d*step is
// 2^63 - 2^31, and a head queued more than 2^31 ns before the task the
// request was made for wraps it negative. That head, first by every
// order, then waited behind the request of a task of the lowest
// priority, here for ever (the request cannot be granted while the other
// process holds its slot).
func TestHostileHVSharedAgedTakeoverDoesNotOverflow(t *testing.T) {
	m, clk := hnClocks[0].make()
	m.Set(hnT0)
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var held limiter.Permit // one of the two slots, held by another process
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held)
	s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(8), scheduler.WithAging(1<<31*time.Nanosecond))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	x := hsScope(t, top, scheduler.WithName("x"), scheduler.WithLimit(1))
	y := hsScope(t, top, scheduler.WithName("y"))
	r, g := hold(t, x) // x's slot and the limit's second permit
	urgentRan := make(chan struct{})
	urgent, err := scheduler.Submit(x, func(context.Context) (int, error) { close(urgentRan); return 1, nil },
		lazytask.WithName("urgent"), lazytask.WithPriority(math.MaxInt32))
	require.NoError(t, err)
	m.Add(3 * time.Second)
	low, err := scheduler.Submit(y, func(context.Context) (int, error) { return 2, nil },
		lazytask.WithName("low"), lazytask.WithPriority(math.MinInt32), lazytask.WithWeight(2))
	require.NoError(t, err)
	require.Equal(t, 1, l.Waiting(), "low asks for both permits")
	g.open() // r ends: one permit free, x has room for urgent
	_, err = hsAwait(t, r)
	require.NoError(t, err)
	hsWithin(t, urgentRan, "urgent, first by every order, takes the request over and runs on the free permit")
	_, err = hsAwait(t, urgent)
	require.NoError(t, err)
	held.Release()
	_, err = hsAwait(t, low)
	require.NoError(t, err)
}
