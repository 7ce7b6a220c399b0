package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lazysched/lazysched/scheduler"
)

// I9: SubmitWait from inside a task at cap 1 with a full queue: the room
// comes only once the queued task runs, which needs the waiting task's slot.
// Before the fix SubmitWait lent nothing and waited until its context ended.
func TestSubmitWaitFromInsideATaskAtCapOne(t *testing.T) {
	s := startScheduler(t, scheduler.WithLimit(1), scheduler.WithQueueLimit(1))
	started := make(chan struct{})
	rel := make(chan struct{})
	outer, err := scheduler.Go(s, func(ctx context.Context) error {
		close(started)
		<-rel
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		h, err := scheduler.SubmitWait(wctx, s, func(ctx context.Context) (int, error) { return 1, nil })
		if err != nil {
			return err
		}
		return h.Wait(ctx)
	})
	require.NoError(t, err)
	<-started
	_, err = scheduler.Go(s, func(ctx context.Context) error { return nil }) // fills the queue
	require.NoError(t, err)
	close(rel)
	require.NoError(t, outer.Wait(bg), "%+v", s.Stats())
}
