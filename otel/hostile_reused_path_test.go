package lazyotel_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// A crawler shuts a host's scope down when the host is done and makes a
// new one under the same name when it comes back. The scope shut down is
// released by its scheduler, but the Observer keeps it in its gauges until
// a garbage collection lets it go (or for as long as the program holds
// it). Both scopes were observed under one attribute set, and the gauges
// kept whichever came last in the set's order: the live scope's two
// running tasks read 0 in most collections (each round has 16 released
// scopes beside the live one; 3 rounds).
func TestHostileAReleasedScopeDoesNotHideTheLiveOneOfItsPath(t *testing.T) {
	for round := range 3 {
		r := newRig(t)
		s := r.sched(t, scheduler.WithLimit(16))
		var old []*scheduler.Scope
		for range 16 {
			sc, err := s.Root().NewScope(scheduler.WithName("example.com"), scheduler.WithLimit(4))
			require.NoError(t, err)
			r.obs.Observe(sc)
			require.NoError(t, sc.Shutdown(bounded(t)))
			old = append(old, sc)
		}
		live, err := s.Root().NewScope(scheduler.WithName("example.com"), scheduler.WithLimit(4))
		require.NoError(t, err)
		started, release := make(chan struct{}, 2), make(chan struct{})
		for range 2 {
			_, err := scheduler.Go(live, func(context.Context) error { started <- struct{}{}; <-release; return nil })
			require.NoError(t, err)
		}
		<-started
		<-started
		assert.Equal(t, map[string]int64{"queued": 0, "running": 2, "in_use": 2, "limit": 4},
			gauges(t, r)["root/example.com"], "round %d: the gauges of the live scope of the path", round)
		close(release)
		shutdown(t, s)
		assert.Equal(t, map[string]int64{"queued": 0, "running": 0, "in_use": 0, "limit": 4},
			gauges(t, r)["root/example.com"], "round %d: after Shutdown", round)
		runtime.KeepAlive(old)
	}
}
