package pondexec_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/factory/pondexec"
	"github.com/lazysched/lazysched/scheduler"
)

// WithPool promises that no run waits in the pool's queue behind busy
// workers (a task waiting for another task would deadlock a pool whose
// workers all wait). A pool with a bounded queue in blocking mode is fed
// from goroutines: the runs admitted at once must not all be taken for
// runs the one idle worker can take, with the others queued behind it.
// Here A, on the pool's only worker, waits for B, admitted with it.
func TestHostileBlockingBoundedPoolQueuesNoRunBehindABusyWorker(t *testing.T) {
	for i := range 200 {
		pool := pond.NewPool(1, pond.WithQueueSize(4))
		s, err := scheduler.New(quiet, scheduler.WithLimit(2), pondexec.WithPool(pool))
		require.NoError(t, err)
		bRan := make(chan struct{})
		escape := make(chan struct{})
		_, err = scheduler.Go(s, func(context.Context) error {
			select {
			case <-bRan:
			case <-escape:
			}
			return nil
		})
		require.NoError(t, err)
		_, err = scheduler.Go(s, func(context.Context) error { close(bRan); return nil })
		require.NoError(t, err)
		select {
		case <-bRan:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Logf("running %d waiting %d submitted %d\n%s", pool.RunningWorkers(), pool.WaitingTasks(), pool.SubmittedTasks(), buf)
			close(escape)
			t.Fatalf("round %d: hang: B's run waits in the pool's queue behind A, which waits for B", i)
		}
		require.NoError(t, s.Shutdown(bg))
		pool.StopAndWait()
	}
}
