package lazytask_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/lazytask"
)

// Info is documented as "a snapshot of the task": its State, Err and
// Timings must agree. A reader racing the end must never see a task that
// is not ended (State Lazy/Queued/Running) with an Err or a Finished time.
func TestInfoIsOneSnapshotWhileTheTaskEnds(t *testing.T) {
	var torn int
	var mu sync.Mutex
	for range 200 {
		g := newGate()
		tk := lazytask.New(g.fn, lazytask.WithTimings())
		require.NoError(t, tk.Start())
		<-g.started
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				i := tk.Info()
				if !i.State.Terminal() && (i.Err != nil || !i.Timings.Finished.IsZero()) {
					mu.Lock()
					torn++
					mu.Unlock()
				}
				if i.State.Terminal() {
					return
				}
			}
		})
		g.finish(0, errBoom)
		wg.Wait()
	}
	require.Zero(t, torn, "Info snapshots with a non-terminal State but an Err or a Finished time")
}
