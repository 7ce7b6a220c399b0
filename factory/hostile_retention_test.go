package factory_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/scheduler"
)

// A loop that waits, over and over, for whichever of a long-lived task
// (a background worker's handle) and a short one ends first, with
// Completed, leaves the long-lived task alone: each round's wait, once the
// round is over, holds nothing on it. Each round registered a done
// callback on the long-lived task (holding the round's channel and gate)
// and a watch of its gate, and nothing removed them before that task
// ends: a supervisor loop that did this once a second for months grew by
// every round (170 B a round here).
func TestHostileCompletedRoundsLeaveNothingOnALongLivedTask(t *testing.T) {
	s := newScheduler(t, scheduler.WithLimit(4))
	release := make(chan struct{})
	long, err := scheduler.Submit(s, func(context.Context) (int, error) { <-release; return 0, nil })
	require.NoError(t, err)
	ctx := bounded(t) // one for every round: the test's own contexts must not grow
	round := func() {
		short, err := scheduler.Submit(s, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		for h := range factory.Completed(ctx, long, short) {
			require.Equal(t, short, h)
			break
		}
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	for range 1000 {
		round()
	}
	before := heap()
	const n = 20000
	for range n {
		round()
	}
	growth := heap() - before
	close(release)
	_, err = long.Await(bounded(t))
	require.NoError(t, err)
	t.Logf("heap growth over %d rounds: %d B (%.1f B a round)", n, growth, float64(growth)/n)
	require.Less(t, growth, int64(n*16), "heap growth over %d Completed rounds on one long-lived task", n)
}
