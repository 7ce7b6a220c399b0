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

// Scope.Wait from inside
// a task lends its slot; the scope waited for becomes idle while a task
// from outside it (Q, let in behind the scope's last task) holds the slot.
// The Wait then takes its slot back by waiting for Q to end, whatever its
// ctx (100 ms) says.
func TestScopeWaitFromInsideHonoursItsContextAfterLending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startScheduler(t, scheduler.WithLimit(1))
		b, err := s.Root().NewScope(scheduler.WithName("B"))
		require.NoError(t, err)
		started := make(chan struct{})
		rel := make(chan struct{})
		qGate := make(chan struct{})
		returned := make(chan error, 1)
		outer, err := scheduler.Go(s, func(ctx context.Context) error {
			close(started)
			<-rel
			wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			returned <- b.Wait(wctx)
			return nil
		})
		require.NoError(t, err)
		<-started
		_, err = scheduler.Go(b, func(ctx context.Context) error { return nil }) // B's only task
		require.NoError(t, err)
		_, err = scheduler.Go(s, func(ctx context.Context) error { <-qGate; return nil }) // Q, behind it
		require.NoError(t, err)
		close(rel)
		select {
		case err := <-returned:
			assert.NoError(t, err, "B.Wait")
		case <-time.After(10 * time.Second): // fake time
			assert.Fail(t, "B.Wait with a 100 ms context still blocked after 10 s", "%+v", s.Stats())
		}
		close(qGate)
		require.NoError(t, outer.Wait(bg))
		require.NoError(t, s.Shutdown(bg))
		st := s.Stats()
		assert.Zero(t, st.OverCap+st.OverCapSlots+st.InUse+st.Running+st.Queued, "%+v", st)
		assert.Equal(t, st.Created, st.Succeeded+st.Failed+st.Canceled+st.Rejected, "%+v", st)
	})
}
