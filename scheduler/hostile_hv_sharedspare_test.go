package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/limiter"
	"github.com/lazysched/lazysched/scheduler"
)

// WithSharedLimit promises that a permit never waits on a local slot. A
// heavy head whose request is in flight when its scope is resized below
// the room it needs is granted its permit while its scope's cap is full:
// the spare permit was kept for it, as the head of its scope, although
// its scope is parked at its own cap. A light task of another scope,
// which every local cap and the limit's free room fit, then waited for
// the heavy head's local slot: here until the running task of the heavy
// head's scope ended, and that task waits for the light one (by a
// channel, not an Await that would lend its slot): a deadlock that a
// local cap alone does not make.
func TestHostileHVSharedSpareDoesNotWaitOnALocalSlot(t *testing.T) {
	t.Run("own cap", func(t *testing.T) { hvSpareLocalSlot(t, false) })
	// the same with the cap resized the sharer's own: the heavy head's
	// scope is then parked at the sharer, as those that wait for a permit
	t.Run("sharer's cap", func(t *testing.T) { hvSpareLocalSlot(t, true) })
}

func hvSpareLocalSlot(t *testing.T, atSharer bool) {
	l, err := limiter.NewLocal(3)
	require.NoError(t, err)
	var held limiter.Permit // one of the three slots, held by another process
	l.Acquire(limiter.Request{Weight: 1, Granted: func(p limiter.Permit, err error) { held = p }})
	require.NotNil(t, held)
	s := hsSched(t, scheduler.WithLimit(8))
	top := hsScope(t, s.Root(), scheduler.WithSharedLimit(l), scheduler.WithName("top"), scheduler.WithLimit(4))
	x := hsScope(t, top, scheduler.WithName("x"), scheduler.WithLimit(4))
	resized := x
	if atSharer {
		resized = top
	}
	y := hsScope(t, top, scheduler.WithName("y"))

	lightRan := make(chan struct{})
	rStarted := make(chan struct{})
	r, err := scheduler.Submit(x, func(ctx context.Context) (int, error) {
		close(rStarted)
		select {
		case <-lightRan: // r goes on once the light task has run
			return 0, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, lazytask.WithName("r"))
	require.NoError(t, err)
	hsWithin(t, rStarted, "r starts")
	heavy, err := scheduler.Submit(x, func(context.Context) (int, error) { return 2, nil },
		lazytask.WithName("heavy"), lazytask.WithWeight(2))
	require.NoError(t, err)
	require.Equal(t, 1, l.Waiting(), "heavy asks for 2 of the limit's 3, 1 free")
	require.NoError(t, resized.Resize(2)) // heavy still fits the cap, not its room
	held.Release()                        // heavy's request is granted: x is full
	light, err := scheduler.Submit(y, func(context.Context) (int, error) { close(lightRan); return 1, nil },
		lazytask.WithName("light"))
	require.NoError(t, err)
	hsWithin(t, lightRan, "the light task, which every cap fits, runs")
	_, err = hsAwait(t, light)
	require.NoError(t, err)
	_, err = hsAwait(t, r)
	require.NoError(t, err)
	v, err := hsAwait(t, heavy)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	require.NoError(t, hsWait(t, top))
}
