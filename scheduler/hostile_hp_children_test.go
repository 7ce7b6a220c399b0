package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

type hpKey struct{}

// A task that queues children carrying its own context and then returns
// without awaiting them: its context ends with its function, so the
// children that carry it with cancellation (WithContext) end Canceled
// without running, with context.Canceled; those that carry its values
// alone (WithValues) run, see its values, and are themselves to HandleOf.
// After the end the parent's context reads Err and Cause alike.
func TestHostileHPChildrenCarryingTheirParentsContext(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1))
	req := context.WithValue(bg, hpKey{}, "req-1")
	type kids struct {
		canceling, valued []*lazytask.Task[string]
		ctx               context.Context
	}
	out := make(chan kids, 1)
	parent, err := scheduler.Submit(s, func(ctx context.Context) (int, error) {
		var k kids
		k.ctx = ctx
		for range 3 {
			h, err := scheduler.Submit(s, func(ctx context.Context) (string, error) {
				t.Error("a child carrying its ended parent's context ran")
				return "", nil
			}, lazytask.WithContext(ctx))
			require.NoError(t, err)
			k.canceling = append(k.canceling, h)
			v, err := scheduler.Submit(s, func(cctx context.Context) (string, error) {
				if lazytask.HandleOf(cctx) == lazytask.HandleOf(ctx) {
					t.Error("HandleOf of a child's context names its parent")
				}
				s, _ := cctx.Value(hpKey{}).(string)
				return s, cctx.Err()
			}, lazytask.WithValues(ctx))
			require.NoError(t, err)
			k.valued = append(k.valued, v)
		}
		out <- k
		return 1, nil
	}, lazytask.WithValues(req))
	require.NoError(t, err)
	require.NoError(t, parent.Wait(bounded(t)))
	k := <-out
	require.ErrorIs(t, k.ctx.Err(), context.Canceled)
	require.ErrorIs(t, context.Cause(k.ctx), context.Canceled)
	for i, h := range k.canceling {
		_, err := h.Await(bounded(t))
		require.ErrorIs(t, err, context.Canceled, "child %d", i)
		require.Equal(t, lazytask.Canceled, h.State(), "child %d", i)
	}
	for i, h := range k.valued {
		v, err := h.Await(bounded(t))
		require.NoError(t, err, "child %d", i)
		require.Equal(t, "req-1", v, "child %d", i)
	}
}
