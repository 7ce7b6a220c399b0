package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// Promote puts a task next in line, ahead of every queued task whatever
// its priority (DESIGN §8). Under a shared limit, a promoted light task
// must not wait behind the request a heavy head of another scope made
// first: a permit of its weight is free, and the heavy one, which is
// not promoted, comes after it.
func TestHostileHTSharedPromotedHeadTakesTheRequestOver(t *testing.T) {
	l, err := limiter.NewLocal(2)
	require.NoError(t, err)
	var held limiter.Permit // one of the two slots, held by another process
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held)
	s := hsSched(t, scheduler.WithLimit(4))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l))
	x := hsScope(t, top, scheduler.WithName("x"))
	y := hsScope(t, top, scheduler.WithName("y"))
	heavy, err := scheduler.Submit(x, func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(2))
	require.NoError(t, err)
	require.Equal(t, 1, l.Waiting(), "the heavy head asks for its permit")
	g := newGate(t)
	light, err := scheduler.Submit(y, g.fn) // behind heavy's request
	require.NoError(t, err)
	require.Equal(t, lazytask.Queued, light.State())
	require.NoError(t, s.Promote(light))
	hsWithin(t, g.started, "the promoted task runs on the free permit")
	require.Equal(t, lazytask.Queued, heavy.State())
	g.open()
	held.Release()
	_, err = hsAwait(t, light)
	require.NoError(t, err)
	_, err = hsAwait(t, heavy)
	require.NoError(t, err)
}
