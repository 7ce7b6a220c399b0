package scheduler_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// Await from inside a task of a task X that was
// force-run (it holds no slot): the lend lets Q in, X ends, and the awaiter
// takes its slot back by waiting for Q, whatever its ctx (100 ms) says.
func TestAwaitOfAForceRunTaskFromInsideHonoursItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		xgo := make(chan struct{})
		x := scheduler.NewTask(s, func(ctx context.Context) (int, error) { <-xgo; return 1, nil })
		require.NoError(t, s.Force(x))
		started := make(chan struct{})
		rel := make(chan struct{})
		qGate := make(chan struct{})
		returned := make(chan error, 1)
		outer, err := scheduler.Go(s, func(ctx context.Context) error {
			close(started)
			<-rel
			wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := x.Await(wctx)
			returned <- err
			return nil
		})
		require.NoError(t, err)
		<-started
		_, err = scheduler.Go(s, func(ctx context.Context) error { <-qGate; return nil }) // Q
		require.NoError(t, err)
		close(rel)
		synctest.Wait() // the outer task waits for x; Q runs in its lent slot
		close(xgo)
		select {
		case err := <-returned:
			assert.NoError(t, err, "x.Await")
		case <-time.After(10 * time.Second): // fake time
			assert.Fail(t, "x.Await with a 100 ms context still blocked after 10 s", "%+v", s.Stats())
		}
		close(qGate)
		require.NoError(t, outer.Wait(bg))
	})
}
