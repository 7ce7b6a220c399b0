package scheduler_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// collectedWithin reports whether w's object is collected within a
// bounded number of collections.
func collectedWithin[T any](w weak.Pointer[T]) bool {
	for range 20 {
		runtime.GC()
		if w.Value() == nil {
			return true
		}
	}
	return false
}

// A scope released from its tree (shut down, its last task ended) is
// collected once the program drops it, even while the program keeps the
// handles of its ended tasks (a result cache): an ended task needs nothing
// of its scope but its name, its clock and its logger. Today the handle's
// binding points into the scope (core.Binding is a field of Scope), so
// each kept handle keeps its whole scope (about 1.5 KB, its context, its
// hooks) alive, and with WithForgetScopes the Prometheus series of that
// scope stay as long as the handle does.
func TestHostileKeptHandleDoesNotKeepItsReleasedScope(t *testing.T) {
	if os.Getenv("LAZYSCHED_KNOWN") != "1" {
		t.Skip("known: an ended task's binding keeps its scope alive; set LAZYSCHED_KNOWN=1 to run")
	}
	s := startScheduler(t, scheduler.WithLimit(2))
	sc, err := s.Root().NewScope(scheduler.WithName("per-request"))
	require.NoError(t, err)
	h, err := scheduler.Submit(sc, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	v, err := h.Await(bg)
	require.NoError(t, err)
	require.Equal(t, 7, v)
	require.NoError(t, sc.Shutdown(bg))
	w := weak.Make(sc)
	sc = nil
	ok := collectedWithin(w)
	v, err = h.Result()
	require.NoError(t, err)
	assert.Equal(t, 7, v, "the kept handle still answers")
	assert.True(t, ok, "a released scope is kept alive by the handle of one of its ended tasks")
}

// The README's errgroup row makes a fail-fast scope per call: only
// waited for, such a scope stays in its parent's tree for good (a scope
// per request grows the tree, Snapshot and the per-scope series without
// bound); ended with Shutdown, as the row now says, it is released.
func TestHostileScopePerCallIsReleasedByShutdownNotByWait(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(4))
	perCall := func(end func(*scheduler.Scope) error) {
		sc, err := s.Root().NewScope(scheduler.FailFast(), scheduler.WithLimit(2))
		require.NoError(t, err)
		for range 3 {
			_, err := scheduler.Go(sc, func(context.Context) error { return nil })
			require.NoError(t, err)
		}
		require.NoError(t, end(sc))
	}
	for range 50 {
		perCall(func(sc *scheduler.Scope) error { return sc.Wait(bg) })
	}
	assert.Len(t, s.Snapshot().Children, 50, "scopes only waited for stay in the tree")
	s2 := startScheduler(t, scheduler.WithLimit(4))
	s = s2
	for range 50 {
		perCall(func(sc *scheduler.Scope) error { return sc.Shutdown(bg) })
	}
	assert.Empty(t, s.Snapshot().Children, "scopes ended with Shutdown are released")
}
