package scheduler_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// conc's stream.Stream: tasks run concurrently, their callbacks one at a
// time in submission order. lazysched has no stream type; awaiting the
// handles in submission order gives the same guarantee: tasks run
// concurrently under the cap, and the results come in order whatever order
// the tasks end in.
func TestPeersStreamOrderFromHandlesAwaitedInOrder(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(4))
	const n = 40
	gates := make([]chan struct{}, n)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	var running, peak atomic.Int32
	hs := make([]*lazytask.Task[int], n)
	for i := range n {
		var err error
		hs[i], err = scheduler.Submit(s, func(ctx context.Context) (int, error) {
			r := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
			}
			<-gates[i]
			return i, nil
		})
		require.NoError(t, err)
	}
	// End the tasks in reverse order within each group of 4 (the cap).
	go func() {
		for base := 0; base < n; base += 4 {
			for i := base + 3; i >= base; i-- {
				close(gates[i])
			}
		}
	}()
	for i, h := range hs {
		v, err := h.Await(bg)
		require.NoError(t, err)
		require.Equal(t, i, v, "result %d in submission order", i)
	}
	assert.LessOrEqual(t, peak.Load(), int32(4), "tasks at once under cap 4")
}
