package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// WithAging promises that a steady stream of high-priority work cannot
// starve low priorities for ever. Under a shared limit a heavy head that
// has aged past a lighter head of a higher raw priority must keep the
// request it made: the lighter one, which the aged order puts behind it,
// must not withdraw it and take the permit first. (It did: the takeover
// compared raw priorities, so every new light task of a higher priority
// took the heavy head's request, and the heavy one waited for ever.)
func TestHostileHTSharedAgedHeavyHeadKeepsItsRequest(t *testing.T) {
	m, clk := hnClocks[0].make()
	m.Set(hnT0)
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	// One of the limit's two slots is held outside the scheduler (another
	// process of the fleet): the heavy head's request waits in its line.
	var held limiter.Permit
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held)

	s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(4), scheduler.WithAging(time.Second))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	x := hsScope(t, top, scheduler.WithName("x"))
	y := hsScope(t, top, scheduler.WithName("y"))
	var log runLog
	heavy, err := scheduler.Submit(x, log.logged("heavy"), lazytask.WithName("heavy"), lazytask.WithWeight(2), lazytask.WithPriority(0))
	require.NoError(t, err)
	require.Equal(t, 1, l.Waiting(), "the heavy head asks for its permit")
	m.Add(10 * time.Second) // aged to priority 10
	light, err := scheduler.Submit(y, log.logged("light"), lazytask.WithName("light"), lazytask.WithPriority(5))
	require.NoError(t, err)
	// The aged order puts heavy (10) before light (5): light waits
	// behind it, as it would at a local cap.
	require.Equal(t, lazytask.Queued, light.State(), "light overtook the aged heavy head: %v", log.get())
	held.Release()
	_, err = hsAwait(t, heavy)
	require.NoError(t, err)
	_, err = hsAwait(t, light)
	require.NoError(t, err)
	require.Equal(t, []string{"heavy", "light"}, log.get())
}

// The other side: with aging on, a head of a higher priority than the
// heavy head has aged to still takes its request over, as without aging.
func TestHostileHTSharedLightHeadAboveTheAgedOneTakesTheRequest(t *testing.T) {
	m, clk := hnClocks[0].make()
	m.Set(hnT0)
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var held limiter.Permit
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held)
	s := hsSched(t, scheduler.WithClock(clk), scheduler.WithLimit(4), scheduler.WithAging(time.Second))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	x := hsScope(t, top, scheduler.WithName("x"))
	y := hsScope(t, top, scheduler.WithName("y"))
	heavy, err := scheduler.Submit(x, func(ctx context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	m.Add(2 * time.Second) // aged to priority 2
	g := newGate(t)
	light, err := scheduler.Submit(y, g.fn, lazytask.WithPriority(5))
	require.NoError(t, err)
	hsWithin(t, g.started, "the light head of priority 5 takes the permit")
	require.Equal(t, lazytask.Queued, heavy.State())
	g.open()
	held.Release()
	_, err = hsAwait(t, light)
	require.NoError(t, err)
	_, err = hsAwait(t, heavy)
	require.NoError(t, err)
}
